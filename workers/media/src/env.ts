import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { mediaSharedEnv } from '@arcadia/media/domain';

const shape = {
  ...mediaSharedEnv,
  ...servicesEnv.process(4103),
  /** Jobs this worker instance runs at once. */
  MEDIA_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  /** Threads of libvips per image operation; sized to the machine. */
  SHARP_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  /** Largest width × height decoded; larger images (decompression bombs) are FAILED. */
  MEDIA_MAX_PIXELS: z.coerce.number().int().min(1).default(100_000_000),
  /**
   * How long a job's lock lives without renewal: a worker that dies mid-job
   * loses its job to another worker after this long (plus the stalled check).
   */
  MEDIA_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(30_000),
  /** How often a worker looks for jobs of dead workers. */
  MEDIA_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(15_000),
  /** An image PROCESSING without change for this long is re-enqueued by the sweeper. */
  MEDIA_STUCK_AFTER_SECONDS: z.coerce.number().int().min(1).default(600),
  /** How often the sweeper looks (one worker instance at a time, under a Redis lock). */
  MEDIA_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(60),
  /** Sweeps of one image before it is FAILED rather than re-enqueued again. */
  MEDIA_MAX_SWEEPS: z.coerce.number().int().min(1).default(3),
  /** Database connections of this worker instance. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).default(4),
};

/** The media worker's validated configuration. */
export type MediaWorkerConfig = ReturnType<typeof parseMediaWorkerEnv>;

/**
 * Reads the worker configuration from `source` (the process environment by
 * default); throws a ConfigError listing every invalid variable.
 */
export function parseMediaWorkerEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv('media-worker', shape, source);
}
