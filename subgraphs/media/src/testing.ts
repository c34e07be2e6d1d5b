/**
 * The media subgraph for tests (`@arcadia/media/testing`), for its own and
 * the media worker's: the factory `startSubgraphHarness` from
 * `@arcadia/testing` starts it with (its own database, buckets, BullMQ and
 * pub/sub prefixes, so files run in parallel without seeing each other), and
 * the operations a client runs to upload an image.
 */
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createLogger, type Logger } from '@arcadia/observability';
import { createQueue, QUEUES, type TypedQueue } from '@arcadia/queues';
import type {
  GraphQLResponse,
  RouterRequest,
  SubgraphFactory,
  TestDatabase,
  TestSubgraph,
  TestUser,
} from '@arcadia/testing';
import { parseMediaEnv, type MediaConfig } from './env.js';
import { createMediaPubSub, imageTrigger, type MediaPubSub } from './events.js';
import { createServer } from './server.js';
import { createStorage, s3Client, type MediaStorage } from './storage.js';
import { openStore, type Store } from './store.js';

/** A stored object read back from S3. */
export interface StoredObject {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
}

/** The media subgraph of one harness, and handles on its stores for assertions and workers. */
export interface MediaUnderTest extends TestSubgraph {
  readonly config: MediaConfig;
  readonly logger: Logger;
  /** The media database (`query` for assertions). */
  readonly db: TestDatabase;
  /** A second handle on the store (the server closes its own). */
  readonly store: Store;
  readonly storage: MediaStorage;
  /** The media queue of this run's prefix (to inspect jobs, or run a worker on). */
  readonly queue: TypedQueue<'media'>;
  readonly pubsub: MediaPubSub;
  /** The Redis channel of an image's events: `imageUpdated(id)` is live once it has a subscriber. */
  imageChannel(imageId: string): string;
  /** Jobs of the queue that are not finished. */
  pendingJobs(): ReturnType<TypedQueue<'media'>['queue']['getJobs']>;
  /** An object of the processed bucket, or null. */
  getVariantObject(key: string): Promise<StoredObject | null>;
  /** Whether the original with this key exists. */
  originalExists(key: string): Promise<boolean>;
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  await Promise.all(
    (listed.Contents ?? []).map((o) =>
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! })),
    ),
  );
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * Media on a database, buckets and Redis prefixes of the harness' own; `env`
 * overrides variables (upload limits, retries, …).
 */
export function mediaSubgraph(env: Record<string, string> = {}): SubgraphFactory<MediaUnderTest> {
  return async (context) => {
    const name = context.uniqueName('media');
    const bucket = name.replace(/_/g, '-');
    const db = await context.createDatabase('media');
    const config = parseMediaEnv({
      ...context.env,
      LOG_LEVEL: 'silent',
      S3_ORIGINALS_BUCKET: `${bucket}-orig`,
      S3_PROCESSED_BUCKET: `${bucket}-proc`,
      QUEUE_PREFIX: name,
      PUBSUB_PREFIX: name,
      MEDIA_JOB_BACKOFF_MS: '50',
      ...env,
      DATABASE_URL: db.url,
    });
    const logger = createLogger('media', config.LOG_LEVEL);
    const openQueue = () =>
      createQueue(QUEUES.media, {
        connection: { url: config.REDIS_URL },
        prefix: config.QUEUE_PREFIX,
        logger,
        retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
      });
    const openPubSub = () =>
      createMediaPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX, logger });

    const storage = createStorage(config, logger);
    const s3 = s3Client(config);
    context.onStop(async () => {
      storage.close();
      await emptyAndDeleteBucket(s3, config.S3_ORIGINALS_BUCKET);
      await emptyAndDeleteBucket(s3, config.S3_PROCESSED_BUCKET);
      s3.destroy();
    });
    await storage.ensureBuckets();
    const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
    context.onStop(() => store.close());
    const queue = openQueue();
    const pubsub = openPubSub();
    context.onStop(async () => {
      await queue.queue.obliterate({ force: true });
      await Promise.all([queue.close(), pubsub.close()]);
    });

    // The server closes its own store, storage, queue and pub/sub; the ones
    // above are the test's, closed after it.
    const server = createServer({
      config,
      keys: context.keys,
      store: await openStore({ databaseUrl: config.DATABASE_URL, logger }),
      storage: createStorage(config, logger),
      queue: openQueue(),
      pubsub: openPubSub(),
      logger,
    });

    return {
      server,
      config,
      logger,
      db,
      store,
      storage,
      queue,
      pubsub,
      imageChannel: (imageId) => `${config.PUBSUB_PREFIX}:media:${imageTrigger(imageId)}`,
      pendingJobs: () => queue.queue.getJobs(['wait', 'active', 'delayed', 'prioritized']),
      async getVariantObject(key) {
        try {
          const object = await s3.send(
            new GetObjectCommand({ Bucket: config.S3_PROCESSED_BUCKET, Key: key }),
          );
          return {
            body: Buffer.from(await object.Body!.transformToByteArray()),
            contentType: object.ContentType,
            cacheControl: object.CacheControl,
          };
        } catch (error) {
          if (error instanceof NoSuchKey) return null;
          throw error;
        }
      },
      async originalExists(key) {
        return (await storage.headOriginal(key)) !== null;
      },
    };
  };
}

/** The fields of an image the tests ask for. */
export const IMAGE_FIELDS = `id status contentType width height bytes placeholder failureReason createdAt updatedAt
  owner { id handle } url variants { name width height format bytes url }`;

export const CREATE_UPLOAD = `mutation ($input: CreateImageUploadInput!) {
  createImageUpload(input: $input) { uploadId uploadUrl method headers expiresAt image { ${IMAGE_FIELDS} } } }`;
export const COMPLETE_UPLOAD = `mutation ($id: ID!) { completeImageUpload(uploadId: $id) { ${IMAGE_FIELDS} } }`;
export const IMAGE = `query ($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`;
export const DELETE_IMAGE = 'mutation ($id: ID!) { deleteImage(id: $id) }';
export const SET_AVATAR = `mutation ($id: ID!) { setAvatar(imageId: $id) { id handle avatar { id url(variant: THUMBNAIL) } } }`;
export const REPROCESS = `mutation ($id: ID!) { reprocessImage(id: $id) { ${IMAGE_FIELDS} } }`;
export const IMAGE_UPDATED = `subscription ($id: ID!) { imageUpdated(id: $id) { ${IMAGE_FIELDS} } }`;

/** An image as the tests ask for it. */
export interface ImageData {
  id: string;
  status: 'AWAITING_UPLOAD' | 'PROCESSING' | 'READY' | 'FAILED';
  contentType: string;
  width: number | null;
  height: number | null;
  bytes: number | null;
  placeholder: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  owner: { id: string; handle: string };
  url: string | null;
  variants: {
    name: string;
    width: number;
    height: number;
    format: string;
    bytes: number;
    url: string;
  }[];
}

/** An ImageUpload as the tests ask for it. */
export interface UploadData {
  uploadId: string;
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  expiresAt: string;
  image: ImageData;
}

/** Whatever sends operations through the router: a harness. */
export interface RouterClient {
  request: RouterRequest;
}

/** The data of a response that must have succeeded. */
function data<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || response.data == null) {
    throw new Error(`expected data, got errors ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** Starts an upload for `user`. */
export async function createUpload(
  client: RouterClient,
  user: TestUser,
  input: { filename?: string; contentType?: string; byteSize: number },
): Promise<UploadData> {
  const { createImageUpload } = data(
    await client.request<{ createImageUpload: UploadData }>(CREATE_UPLOAD, {
      token: user.token,
      variables: {
        input: { filename: 'photo.jpg', contentType: 'image/jpeg', ...input },
      },
    }),
  );
  return createImageUpload;
}

/** PUTs `body` to a presigned upload as a client would (fetch, the returned headers). */
export async function putUpload(upload: UploadData, body: Buffer): Promise<number> {
  const res = await fetch(upload.uploadUrl, {
    method: upload.method,
    headers: upload.headers,
    body: new Uint8Array(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** completeImageUpload as `user`, the raw response. */
export function complete(client: RouterClient, user: TestUser, uploadId: string) {
  return client.request<{ completeImageUpload: ImageData }>(COMPLETE_UPLOAD, {
    token: user.token,
    variables: { id: uploadId },
  });
}

/** Create, PUT and complete: the whole client side of an upload. */
export async function upload(
  client: RouterClient,
  user: TestUser,
  body: Buffer,
  contentType = 'image/jpeg',
  filename = 'photo.jpg',
): Promise<ImageData> {
  const created = await createUpload(client, user, {
    filename,
    contentType,
    byteSize: body.length,
  });
  const status = await putUpload(created, body);
  if (status !== 200) throw new Error(`the upload PUT answered ${status}`);
  return data(await complete(client, user, created.uploadId)).completeImageUpload;
}

/** The image as `user` (or anonymous) sees it; null when not visible. */
export async function image(
  client: RouterClient,
  id: string,
  user?: TestUser | null,
): Promise<ImageData | null> {
  return data(
    await client.request<{ image: ImageData | null }>(IMAGE, {
      token: user?.token,
      variables: { id },
    }),
  ).image;
}
