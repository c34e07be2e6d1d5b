/**
 * Object storage of images: the only module that talks to S3. Originals go
 * to a private bucket through presigned PUTs straight from clients; variants
 * go to a public-read bucket under content-addressed keys, served with
 * year-long immutable caching. The worker uses the same module.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Logger } from '@arcadia/observability';
import type { MediaSharedConfig } from './env.js';

/** Cache-Control of every variant: its key changes whenever its bytes do. */
export const VARIANT_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** The private key of an upload's original: `originals/<owner>/<image id>`. */
export function originalKey(ownerId: string, imageId: string): string {
  return `originals/${ownerId}/${imageId}`;
}

/** The folder of an image's variants. */
export function variantPrefix(imageId: string): string {
  return `images/${imageId}/`;
}

/**
 * A content-addressed variant key, `images/<id>/<name>-<sha256 prefix>.webp`:
 * new bytes get a new URL, so a CDN never serves a stale copy, and the same
 * bytes written twice (a retried job) land on the same object.
 */
export function variantKey(imageId: string, name: string, sha256Hex: string): string {
  return `${variantPrefix(imageId)}${name.toLowerCase()}-${sha256Hex.slice(0, 16)}.webp`;
}

/** What the storage needs from the configuration. */
export type StorageConfig = Pick<
  MediaSharedConfig,
  | 'S3_ENDPOINT'
  | 'S3_PUBLIC_ENDPOINT'
  | 'S3_REGION'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
  | 'S3_FORCE_PATH_STYLE'
  | 'S3_ORIGINALS_BUCKET'
  | 'S3_PROCESSED_BUCKET'
  | 'MEDIA_PUBLIC_BASE_URL'
>;

/** The image buckets. */
export interface MediaStorage {
  readonly originalsBucket: string;
  readonly processedBucket: string;
  /** Creates both buckets if missing; makes the processed one public-read where S3 supports it. */
  ensureBuckets(options?: { corsOrigins?: readonly string[] }): Promise<void>;
  /** A presigned PUT of `key` in the originals bucket, bound to `contentType`. */
  presignUpload(key: string, contentType: string, expiresInSeconds: number): Promise<string>;
  /** Size of an uploaded original; null when nothing is there. */
  headOriginal(key: string): Promise<{ bytes: number } | null>;
  /** The bytes of an original; null when nothing is there. */
  getOriginal(key: string): Promise<Buffer | null>;
  deleteOriginal(key: string): Promise<void>;
  /** Writes a variant with its content type and immutable caching. */
  putVariant(key: string, body: Buffer, contentType: string): Promise<void>;
  /** Deletes variants; missing ones are fine. */
  deleteVariants(keys: readonly string[]): Promise<void>;
  /** Every variant key under an image's folder. */
  listVariants(imageId: string): Promise<string[]>;
  /** The public URL of a variant. */
  variantUrl(key: string): string;
  /** Throws when S3 does not answer; drives `/ready`. */
  ping(): Promise<void>;
  close(): void;
}

/** An S3 client of the configured store, at `endpoint` (tests use it to read objects back). */
export function s3Client(config: StorageConfig, endpoint = config.S3_ENDPOINT): S3Client {
  return new S3Client({
    endpoint,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: {
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    },
    // Without these a presigned URL carries the CRC32 of an empty body (real
    // S3 and MinIO then refuse the upload) and streamed puts go aws-chunked,
    // which some S3-compatible servers store framing and all.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
}

/** True for the "no such object/bucket" answers of S3. */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return (
    error.$metadata.httpStatusCode === 404 ||
    error.name === 'NoSuchKey' ||
    error.name === 'NotFound' ||
    error.name === 'NoSuchBucket'
  );
}

/** Opens the image buckets of `config`. */
export function createStorage(config: StorageConfig, logger?: Logger): MediaStorage {
  const s3 = s3Client(config, config.S3_ENDPOINT);
  // Presigned URLs are signed for the host clients use.
  const presigner = config.S3_PUBLIC_ENDPOINT ? s3Client(config, config.S3_PUBLIC_ENDPOINT) : s3;
  const originalsBucket = config.S3_ORIGINALS_BUCKET;
  const processedBucket = config.S3_PROCESSED_BUCKET;
  const publicBase = (
    config.MEDIA_PUBLIC_BASE_URL ??
    `${(config.S3_PUBLIC_ENDPOINT ?? config.S3_ENDPOINT).replace(/\/+$/, '')}/${processedBucket}`
  ).replace(/\/+$/, '');

  async function ensureBucket(bucket: string): Promise<void> {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      logger?.info({ bucket }, 'bucket created');
    } catch (error) {
      // Another instance created it in between.
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
  }

  /** Applies a bucket setting that not every S3-compatible server supports. */
  async function optional(what: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      logger?.debug({ err: error, what }, 'bucket setting not supported here; skipped');
    }
  }

  return {
    originalsBucket,
    processedBucket,
    async ensureBuckets(options = {}) {
      await ensureBucket(originalsBucket);
      await ensureBucket(processedBucket);
      await optional('public-read policy', () =>
        s3.send(
          new PutBucketPolicyCommand({
            Bucket: processedBucket,
            Policy: JSON.stringify({
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'PublicReadVariants',
                  Effect: 'Allow',
                  Principal: '*',
                  Action: ['s3:GetObject'],
                  Resource: [`arn:aws:s3:::${processedBucket}/*`],
                },
              ],
            }),
          }),
        ),
      );
      const origins = options.corsOrigins ?? ['*'];
      if (origins.length) {
        await optional('upload CORS rule', () =>
          s3.send(
            new PutBucketCorsCommand({
              Bucket: originalsBucket,
              CORSConfiguration: {
                CORSRules: [
                  {
                    AllowedMethods: ['PUT'],
                    AllowedOrigins: [...origins],
                    AllowedHeaders: ['*'],
                    MaxAgeSeconds: 3600,
                  },
                ],
              },
            }),
          ),
        );
      }
    },
    presignUpload(key, contentType, expiresInSeconds) {
      return getSignedUrl(
        presigner,
        new PutObjectCommand({ Bucket: originalsBucket, Key: key, ContentType: contentType }),
        // Signing content-type binds the URL to it: another type is refused.
        { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-type']) },
      );
    },
    async headOriginal(key) {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: originalsBucket, Key: key }));
        return { bytes: head.ContentLength ?? 0 };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async getOriginal(key) {
      try {
        const object = await s3.send(new GetObjectCommand({ Bucket: originalsBucket, Key: key }));
        if (!object.Body) return null;
        const bytes = await object.Body.transformToByteArray();
        // A view, not a copy: originals are megabytes and every job reads one.
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async deleteOriginal(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: originalsBucket, Key: key }));
    },
    async putVariant(key, body, contentType) {
      await s3.send(
        new PutObjectCommand({
          Bucket: processedBucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: contentType,
          CacheControl: VARIANT_CACHE_CONTROL,
        }),
      );
    },
    async deleteVariants(keys) {
      await Promise.all(
        [...new Set(keys)].map((key) =>
          s3.send(new DeleteObjectCommand({ Bucket: processedBucket, Key: key })),
        ),
      );
    },
    async listVariants(imageId) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: processedBucket,
            Prefix: variantPrefix(imageId),
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    variantUrl: (key) => `${publicBase}/${key}`,
    async ping() {
      await s3.send(new HeadBucketCommand({ Bucket: processedBucket }));
    },
    close() {
      s3.destroy();
      if (presigner !== s3) presigner.destroy();
    },
  };
}
