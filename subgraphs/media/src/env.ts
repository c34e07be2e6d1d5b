import { z } from 'zod';
import { env, parseEnv, servicesEnv } from '@arcadia/config';

/**
 * Variables the media subgraph and the media worker share: where the images
 * live (database, buckets), how they are published, and the queue between
 * the two. The worker spreads this into its own shape.
 */
export const mediaSharedEnv = {
  DATABASE_URL: env.url('postgres://arcadia:arcadia@127.0.0.1:5432/arcadia_media'),
  ...servicesEnv.redis,
  ...servicesEnv.s3,
  /**
   * Endpoint that clients reach S3 at, when it differs from `S3_ENDPOINT`
   * (e.g. `http://localhost:9000` while the services reach `http://minio:9000`).
   * Presigned upload URLs and default public URLs use it.
   */
  S3_PUBLIC_ENDPOINT: z.url().optional(),
  /** Private bucket of uploaded originals. */
  S3_ORIGINALS_BUCKET: z.string().min(3).default('arcadia-originals'),
  /** Public-read bucket of processed variants (the CDN's origin). */
  S3_PROCESSED_BUCKET: z.string().min(3).default('arcadia-processed'),
  /**
   * Base URL variants are served from, e.g. `https://images.example.com` (a
   * CDN in front of the processed bucket). Default: the bucket on the S3
   * endpoint, `<S3_PUBLIC_ENDPOINT or S3_ENDPOINT>/<S3_PROCESSED_BUCKET>`.
   */
  MEDIA_PUBLIC_BASE_URL: z.url().optional(),
  /** Largest original accepted, in bytes (20 MiB); at most what a GraphQL Int holds. */
  MEDIA_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(20 * 1024 * 1024),
  /** BullMQ key prefix; producers and workers must agree. */
  QUEUE_PREFIX: z.string().min(1).default('arcadia'),
  /** Redis pub/sub channel prefix; the subgraph and the worker must agree. */
  PUBSUB_PREFIX: z.string().min(1).default('arcadia'),
  /** Runs of a processing job before the image is FAILED (first run included). */
  MEDIA_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /** Delay before the first retry; each further retry waits twice as long. */
  MEDIA_JOB_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),
};

const shape = {
  ...servicesEnv.process(4003),
  ...servicesEnv.metrics(9403),
  ...mediaSharedEnv,
  /** How long a presigned upload URL works. */
  MEDIA_UPLOAD_URL_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(900),
  /** Browser origins allowed to PUT to the originals bucket (a CORS rule where S3 supports it). */
  MEDIA_UPLOAD_CORS_ORIGINS: env.list(['*']),
  ...servicesEnv.keys,
};

/** The media subgraph's validated configuration. */
export type MediaConfig = ReturnType<typeof parseMediaEnv>;

/**
 * Reads the media configuration from `source` (the process environment by
 * default); throws a ConfigError listing every invalid variable.
 */
export function parseMediaEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv('media', shape, source);
}

/** The shared part of the configuration, as both processes see it. */
export type MediaSharedConfig = Readonly<z.infer<z.ZodObject<typeof mediaSharedEnv>>>;
