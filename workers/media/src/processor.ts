/**
 * The media queue's processor: one job makes the variants of one version of
 * one image. A function of the job's data and its dependencies, so tests run
 * it without BullMQ; `worker.ts` wires it to the queue.
 *
 * Safe to run twice, concurrently or after a crash: variants are rendered
 * deterministically under content-addressed keys (a rerun writes the same
 * objects), the row is updated only if the version is still unfinished (of
 * two runs exactly one commits), and the loser deletes what only it wrote.
 */
import {
  publishImageUpdated,
  type MediaPubSub,
  variantKey,
  type MediaStorage,
  type ImageRow,
  type Store,
  type VariantRow,
} from '@arcadia/media/domain';
import type { Logger } from '@arcadia/observability';
import { UnrecoverableError, type JobRun, type MediaJob } from '@arcadia/queues';
import { inspect, render, UnprocessableImage } from './images.js';

/** What the processor works with. */
export interface ProcessorDeps {
  readonly store: Store;
  readonly storage: MediaStorage;
  readonly pubsub: MediaPubSub;
  readonly logger: Logger;
  readonly config: {
    /** Largest width × height decoded (`MEDIA_MAX_PIXELS`). */
    readonly maxPixels: number;
  };
}

/** How a run ended (when it did not throw). */
export type ProcessOutcome =
  /** The variants are written and the image READY. */
  | 'ready'
  /** Another run finished this version first; what only this run wrote is deleted. */
  | 'superseded'
  /** Nothing to do: the image is gone, or this version is finished or stale. */
  | 'skipped';

/** The job's run: its data, and which attempt this is of how many. */
export type MediaJobRun = Pick<JobRun<MediaJob>, 'data' | 'attempt' | 'maxAttempts'>;

/** The reason a FAILED image shows when retries ran out; the details go to the log. */
export const RETRIES_EXHAUSTED = (attempts: number) =>
  `The image could not be processed after ${attempts} attempt${attempts === 1 ? '' : 's'} (storage or database unavailable); ask for it to be processed again later.`;

/**
 * Processes one job. Throws to have BullMQ retry it (with backoff); throws
 * UnrecoverableError, after marking the image FAILED, when the file itself
 * is the problem (not an image, a decompression bomb, damaged data), since
 * no retry would help. On the last attempt any failure marks the image FAILED.
 */
export async function processImage(job: MediaJobRun, deps: ProcessorDeps): Promise<ProcessOutcome> {
  const { imageId, version } = job.data;
  const { store, storage, pubsub, config } = deps;
  const logger = deps.logger.child({ imageId, version, attempt: job.attempt });
  const repo = store.session();

  const image = await repo.imageById(imageId);
  if (
    !image ||
    image.version !== version ||
    image.processedVersion >= version ||
    (image.status !== 'PROCESSING' && image.status !== 'READY')
  ) {
    logger.debug({ status: image?.status }, 'nothing to process');
    return 'skipped';
  }

  async function fail(reason: string): Promise<void> {
    try {
      const failed = await repo.failProcessing(imageId, version, reason);
      if (!failed) return;
      logger.warn({ reason, status: failed.status }, 'image processing failed');
      await removeUnreferenced(failed);
      await publishImageUpdated(pubsub, failed);
    } catch (error) {
      // The sweeper finds the image still PROCESSING later and settles it.
      logger.error({ err: error }, 'could not record the failure');
    }
  }

  /** Deletes variant objects of the image that its row does not list (left by crashed runs). */
  async function removeUnreferenced(current: ImageRow): Promise<void> {
    try {
      const kept = new Set(current.variants.map((v) => v.key));
      const stray = (await storage.listVariants(imageId)).filter((key) => !kept.has(key));
      if (stray.length) await storage.deleteVariants(stray);
    } catch (error) {
      logger.warn({ err: error }, 'stray variants could not be removed');
    }
  }

  try {
    const original = await storage.getOriginal(image.originalKey);
    if (!original) throw new UnprocessableImage('The uploaded file is missing.');
    const found = await inspect(original, config.maxPixels);
    const rendering = await render(original, { maxPixels: config.maxPixels });
    const variants: VariantRow[] = rendering.variants.map((v) => ({
      name: v.name,
      width: v.width,
      height: v.height,
      format: v.format,
      bytes: v.data.length,
      key: variantKey(imageId, v.name, v.sha256),
    }));
    await Promise.all(
      rendering.variants.map((v, i) => storage.putVariant(variants[i]!.key, v.data, 'image/webp')),
    );

    const outcome = await repo.finishProcessing({
      id: imageId,
      version,
      contentType: found.contentType,
      width: found.width,
      height: found.height,
      placeholder: rendering.placeholder,
      variants,
    });
    if (!outcome.committed) {
      // Another run (or a reprocess, or a delete) won: keep only what the row lists.
      const kept = new Set(outcome.image?.variants.map((v) => v.key) ?? []);
      const mine = variants.map((v) => v.key).filter((key) => !kept.has(key));
      if (mine.length) await storage.deleteVariants(mine);
      logger.info('another run finished this version first');
      return 'superseded';
    }
    if (outcome.superseded.length) {
      await storage.deleteVariants(outcome.superseded.map((v) => v.key)).catch((error: unknown) => {
        logger.warn({ err: error }, 'superseded variants could not be removed');
      });
    }
    try {
      await publishImageUpdated(pubsub, outcome.image);
    } catch (error) {
      // The row is READY either way; a retry would find nothing to do.
      logger.warn({ err: error }, 'imageUpdated could not be published');
    }
    logger.info({ width: found.width, height: found.height }, 'image ready');
    return 'ready';
  } catch (error) {
    if (error instanceof UnprocessableImage) {
      await fail(error.message);
      throw new UnrecoverableError(error.message);
    }
    if (job.attempt >= job.maxAttempts) {
      logger.error({ err: error }, 'image processing failed on the last attempt');
      await fail(RETRIES_EXHAUSTED(job.attempt));
    } else {
      logger.warn({ err: error }, 'image processing failed; will retry');
    }
    throw error;
  }
}
