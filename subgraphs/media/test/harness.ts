/**
 * Starts the media subgraph with the accounts subgraph behind the real router
 * (`startSupergraph`), for one test file: its own databases, buckets, BullMQ
 * prefix and pub/sub prefix, so files run in parallel without seeing each
 * other. The media worker's tests (`workers/media`) start their worker on the
 * same harness (`@arcadia/media/testing`).
 */
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startAccountsPeer, type PeerUser } from '@arcadia/accounts/testing';
import type { KeyMaterial } from '@arcadia/auth';
import { createLogger, type Logger } from '@arcadia/observability';
import { createQueue, QUEUES, type TypedQueue } from '@arcadia/queues';
import {
  createTestDatabase,
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type GraphQLResponse,
  type TestDatabase,
  type TestSupergraph,
} from '@arcadia/testing';
import { parseMediaEnv, type MediaConfig } from '../src/env.js';
import { createMediaPubSub, type MediaPubSub } from '../src/events.js';
import { createServer } from '../src/server.js';
import { createStorage, s3Client, type MediaStorage } from '../src/storage.js';
import { openStore, type Store } from '../src/store.js';

export type { GraphQLResponse };

/** A signed-up user of the test supergraph. */
export type TestUser = PeerUser;

/** A stored object read back from S3. */
export interface StoredObject {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
}

/** The running supergraph of one test file. */
export interface MediaHarness {
  readonly config: MediaConfig;
  readonly keys: KeyMaterial;
  readonly logger: Logger;
  readonly store: Store;
  readonly storage: MediaStorage;
  /** The media queue of this file's prefix (to inspect jobs). */
  readonly queue: TypedQueue<'media'>;
  readonly pubsub: MediaPubSub;
  readonly supergraph: TestSupergraph;
  /** `ws://…/graphql` of the router. */
  readonly wsUrl: string;
  /** Sends an operation as a client would, with a bearer token when given. */
  request<TData = Record<string, any>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string | null },
  ): Promise<GraphQLResponse<TData>>;
  /** Signs up a new user through the router; `admin` makes them ADMIN. */
  signUp(options?: { admin?: boolean }): Promise<TestUser>;
  /** Runs SQL on the media test database. */
  sql<TRow extends Record<string, any> = Record<string, any>>(
    text: string,
    values?: unknown[],
  ): Promise<TRow[]>;
  /** An object of the processed bucket, or null. */
  getVariantObject(key: string): Promise<StoredObject | null>;
  /** Whether the original with this key exists. */
  originalExists(key: string): Promise<boolean>;
  /** Subscribers of an image's pub/sub channel: a subscription is live once this is positive. */
  watchers(imageId: string): Promise<number>;
  stop(): Promise<void>;
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    await Promise.all(
      (listed.Contents ?? []).map((o) =>
        s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! })),
      ),
    );
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch {
    // Best effort: a leftover test bucket harms nobody.
  }
}

/** Starts accounts + media + router on fresh databases and buckets; `env` overrides media variables. */
export async function startMedia(env: Record<string, string> = {}): Promise<MediaHarness> {
  const name = uniqueName('media');
  const bucket = name.replace(/_/g, '-');
  const mediaDb: TestDatabase = await createTestDatabase('media');
  const keys = await testKeyMaterial();
  const accounts = await startAccountsPeer(keys);
  const config = parseMediaEnv({
    ...process.env,
    LOG_LEVEL: 'silent',
    S3_ORIGINALS_BUCKET: `${bucket}-orig`,
    S3_PROCESSED_BUCKET: `${bucket}-proc`,
    QUEUE_PREFIX: name,
    PUBSUB_PREFIX: name,
    MEDIA_JOB_BACKOFF_MS: '50',
    ...env,
    DATABASE_URL: mediaDb.url,
  });
  const logger = createLogger('media', config.LOG_LEVEL);

  const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
  const storage = createStorage(config, logger);
  await storage.ensureBuckets();
  const queue = createQueue(QUEUES.media, {
    connection: { url: config.REDIS_URL },
    prefix: config.QUEUE_PREFIX,
    retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
  });
  const pubsub = createMediaPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX });
  // The server closes its own queue and pub/sub; the harness keeps separate
  // ones for the worker and assertions, closed in stop().
  const media = createServer({
    config,
    keys,
    store: await openStore({ databaseUrl: config.DATABASE_URL, logger }),
    storage: createStorage(config, logger),
    queue: createQueue(QUEUES.media, {
      connection: { url: config.REDIS_URL },
      prefix: config.QUEUE_PREFIX,
      retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
    }),
    pubsub: createMediaPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX }),
    logger,
  });
  const supergraph = await startSupergraph({ subgraphs: [accounts.subgraph, media], keys });

  const s3 = s3Client(config);

  const sqlClient = new pg.Client({ connectionString: config.DATABASE_URL });
  await sqlClient.connect();
  const redis = new Redis(config.REDIS_URL);

  const request: MediaHarness['request'] = (query, options) => supergraph.request(query, options);

  return {
    config,
    keys,
    logger,
    store,
    storage,
    queue,
    pubsub,
    supergraph,
    wsUrl: supergraph.url.replace(/^http/, 'ws'),
    request,
    signUp: (options = {}) => accounts.signUp(request, { prefix: 'media', ...options }),
    async sql(text, values) {
      return (await sqlClient.query(text, values)).rows;
    },
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
      } catch {
        return null;
      }
    },
    async originalExists(key) {
      return (await storage.headOriginal(key)) !== null;
    },
    async watchers(imageId) {
      const channel = `${config.PUBSUB_PREFIX}:media:image:${imageId}`;
      const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
      return Number(count);
    },
    async stop() {
      await sqlClient.end();
      redis.disconnect();
      // Stops the router, then the subgraphs, which close their own stores.
      await supergraph.stop();
      await Promise.allSettled([queue.queue.obliterate({ force: true })]);
      await Promise.allSettled([queue.close(), pubsub.close()]);
      await store.close();
      storage.close();
      await emptyAndDeleteBucket(s3, config.S3_ORIGINALS_BUCKET);
      await emptyAndDeleteBucket(s3, config.S3_PROCESSED_BUCKET);
      s3.destroy();
      await Promise.all([mediaDb.drop(), accounts.drop()]);
    },
  };
}
