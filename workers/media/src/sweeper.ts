/**
 * The sweeper: no image stays PROCESSING for ever. A job can get lost (Redis
 * lost data, the enqueue after the status change failed, a job failed for
 * good without the processor recording it); every image whose processing has
 * not moved for a while gets its job added again, and after a few such
 * sweeps it is FAILED instead.
 */
import { publishImageUpdated, type MediaPubSub, type Store } from '@arcadia/media/domain';
import type { Logger } from '@arcadia/observability';
import type { TypedQueue } from '@arcadia/queues';
import { createRedisConnection } from '@arcadia/redis';

/** What a sweep works with. */
export interface SweepDeps {
  readonly store: Store;
  readonly queue: TypedQueue<'media'>;
  readonly pubsub: MediaPubSub;
  readonly logger: Logger;
  /** Unfinished for this long counts as stuck (`MEDIA_STUCK_AFTER_SECONDS`). */
  readonly stuckAfterSeconds: number;
  /** Re-enqueues of one version before it is FAILED (`MEDIA_MAX_SWEEPS`). */
  readonly maxSweeps: number;
  /** Images looked at per sweep. */
  readonly batchSize?: number;
}

/** The reason an image FAILED by the sweeper shows. */
export const SWEPT_OUT =
  'Processing did not finish; ask for the image to be processed again, or upload it again.';

/** What one sweep did. */
export interface SweepReport {
  /** Images whose job was added again. */
  readonly requeued: string[];
  /** Images FAILED because their processing never finished. */
  readonly failed: string[];
}

/** Runs one sweep. */
export async function sweepStalledImages(deps: SweepDeps): Promise<SweepReport> {
  const repo = deps.store.session();
  const report: SweepReport = { requeued: [], failed: [] };
  const stalled = await repo.stalledImages(deps.stuckAfterSeconds, deps.batchSize ?? 100);
  for (const image of stalled) {
    const job = { imageId: image.id, reason: 'sweep' as const, version: image.version };
    // Waiting in a long queue, retrying or running is not stuck: restart the clock only.
    if (await deps.queue.isPending(job)) {
      await repo.noteSwept(image.id, image.version, false);
      continue;
    }
    if (image.sweeps >= deps.maxSweeps) {
      const failed = await repo.failProcessing(image.id, image.version, SWEPT_OUT);
      if (failed) {
        report.failed.push(image.id);
        deps.logger.warn({ imageId: image.id, sweeps: image.sweeps }, 'stuck image FAILED');
        await publishImageUpdated(deps.pubsub, failed);
      }
      continue;
    }
    if (await deps.queue.reenqueue(job)) report.requeued.push(image.id);
    await repo.noteSwept(image.id, image.version, true);
  }
  if (report.requeued.length) {
    deps.logger.warn({ imageIds: report.requeued }, 'stuck images re-enqueued');
  }
  return report;
}

/** A sweeper running on an interval. */
export interface RunningSweeper {
  close(): Promise<void>;
}

/**
 * Sweeps every `intervalMs`, in one worker instance at a time: each tick,
 * the instance that takes a Redis lock (held for most of the interval)
 * sweeps, and the others skip.
 */
export function startSweeper(
  deps: SweepDeps & { redisUrl: string; lockKey: string; intervalMs: number },
): RunningSweeper {
  // The lock is a command like any other: while Redis is away a tick fails
  // fast (logged below) and the next interval tries again.
  const redis = createRedisConnection({
    url: deps.redisUrl,
    name: 'media-sweeper',
    use: 'commands',
    logger: deps.logger,
  });
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      const lockMs = Math.max(500, Math.floor(deps.intervalMs * 0.9));
      const taken = await redis.set(deps.lockKey, String(process.pid), 'PX', lockMs, 'NX');
      if (taken === 'OK') await sweepStalledImages(deps);
    })().catch((error: unknown) => deps.logger.error({ err: error }, 'sweep failed'));
  };
  const timer = setInterval(tick, deps.intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
      await redis.close();
    },
  };
}
