/**
 * The router, chat and media (with accounts for users) on a Redis of this
 * file's own, with live subscriptions, requests and queued jobs, while that
 * Redis drops every client connection and then stops and starts again. What
 * is shown: every Redis user comes back by itself (subscriptions deliver
 * again, mutations and persisted queries that need Redis work again, queued
 * jobs run), requests fail fast or degrade while Redis is away, clients stay
 * connected, and nothing surfaces as an unhandled rejection, an uncaught
 * exception or an ioredis "Unhandled error event".
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { chatSubgraph, type ChatUnderTest } from '@arcadia/chat/testing';
import {
  complete,
  createUpload,
  IMAGE_UPDATED,
  mediaSubgraph,
  putUpload,
} from '@arcadia/media/testing';
import type { MediaUnderTest } from '@arcadia/media/testing';
import { createLogger } from '@arcadia/observability';
import { QUEUES, runWorker, type RunningWorker } from '@arcadia/queues';
import { createRedisConnection, type RedisConnection } from '@arcadia/redis';
import {
  eventually,
  startPrivateRedis,
  startSubgraphHarness,
  type PrivateRedis,
  type SubgraphHarness,
  type TestSubscription,
  type TestUser,
} from '@arcadia/testing';

const START = `mutation ($ids: [ID!]!) { startConversation(memberIds: $ids) { id } }`;
const SEND = `mutation ($c: ID!, $t: String!, $k: ID!) {
  sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id text } }`;
const EVENTS = `subscription { chatEvents {
  __typename
  ... on MessageAdded { message { id text sender { id handle } } }
} }`;

type ChatEvent = { chatEvents: { __typename: string; message?: { text: string } } };
type ImageEvent = { imageUpdated: { id: string; status: string } };

// What must stay empty for the whole file.
const unhandled: unknown[] = [];
const collect = (error: unknown) => unhandled.push(error);
const consoleError = vi.spyOn(console, 'error');
/** ioredis prints this (instead of throwing) for an 'error' event nobody listens to. */
const unheardRedisErrors = () =>
  consoleError.mock.calls.filter((args) => String(args[0]).includes('Unhandled error event'));

let redis: PrivateRedis;
let admin: RedisConnection;
let h: SubgraphHarness<ChatUnderTest>;
let media: MediaUnderTest;
let worker: RunningWorker;
/** Ids of the images whose job the worker ran. */
const ran: string[] = [];
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
let inbox: TestSubscription<ChatEvent>;

/** Subscribers Redis counts on a channel right now (0 while it is away). */
async function subscribers(channel: string): Promise<number> {
  const reply = await admin.pubsub('NUMSUB', channel).catch(() => null);
  return reply ? Number((reply as [string, number])[1]) : 0;
}

beforeAll(async () => {
  process.on('unhandledRejection', collect);
  process.on('uncaughtException', collect);
  redis = await startPrivateRedis();
  admin = createRedisConnection({
    url: redis.url,
    name: 'drop-test',
    use: 'commands',
    logger: createLogger('drop-test', 'silent'),
  });
  h = await startSubgraphHarness({
    subject: chatSubgraph(),
    peers: [accountsSubgraph(), mediaSubgraph()],
    // Every service's REDIS_URL, the router's included.
    env: { ...process.env, REDIS_URL: redis.url },
    routerEnv: { REDIS_URL: redis.url },
  });
  media = h.peers.find((peer) => peer.server.name === 'media') as MediaUnderTest;
  // Stands in for the media worker (which needs sharp and S3 for a real
  // image): the same queue, prefix and connections, recording what it runs.
  worker = runWorker(
    QUEUES.media,
    async (job) => {
      ran.push(job.data.imageId);
    },
    {
      connection: { url: redis.url },
      prefix: media.config.QUEUE_PREFIX,
      concurrency: 1,
      logger: createLogger('drop-test-worker', 'silent'),
    },
  );

  [alice, bob] = [await h.signUp({ prefix: 'alice' }), await h.signUp({ prefix: 'bob' })];
  const started = await h.request(START, { token: alice.token, variables: { ids: [bob.id] } });
  expect(started.errors).toBeUndefined();
  conversationId = started.data!.startConversation.id as string;
  inbox = await h.subscribe<ChatEvent>(
    alice,
    { query: EVENTS },
    { live: async () => (await subscribers(h.subject.userChannel(alice.id))) > 0 },
  );
}, 120_000);

afterAll(async () => {
  await worker?.close(true);
  await h?.stop();
  await admin?.close();
  await redis?.dispose();
  process.off('unhandledRejection', collect);
  process.off('uncaughtException', collect);
  // Shutting everything down after the outages raised nothing either.
  const unheard = unheardRedisErrors();
  consoleError.mockRestore();
  expect(unhandled).toEqual([]);
  expect(unheard).toEqual([]);
}, 60_000);

/** Bob's message, sent until chat accepts it (right after an outage its Redis may still be reconnecting). */
async function bobSays(text: string) {
  const clientMessageId = randomUUID();
  await eventually(
    async () =>
      !(
        await h.request(SEND, {
          token: bob.token,
          variables: { c: conversationId, t: text, k: clientMessageId },
        })
      ).errors,
    { what: `chat to accept "${text}"` },
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A query registered as a persisted query (APQ, in the router's Redis) and run by its hash. */
async function persistedQueryWorks(round: string) {
  const query = `query Apq_${round.replace(/\W/g, '_')} { __typename }`;
  const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
  const post = (body: object) =>
    fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((res) => res.json() as Promise<{ data?: unknown; errors?: unknown[] }>);
  expect(await post({ query, extensions })).toEqual({ data: { __typename: 'Query' } });
  // The router writes the registration after answering.
  await eventually(async () => (await post({ extensions })).data, {
    what: `the persisted query of ${round} to be served by hash`,
  });
}

/** An upload of alice's, PUT but not completed, and her live imageUpdated subscription to it. */
async function pendingUpload() {
  const upload = await createUpload(h, alice, { byteSize: 4 });
  expect(await putUpload(upload, Buffer.from('data'))).toBe(200);
  const id = upload.image.id;
  const updates = await h.subscribe<ImageEvent>(
    alice,
    { query: IMAGE_UPDATED, variables: { id } },
    { live: async () => (await subscribers(media.imageChannel(id))) > 0 },
  );
  return { upload, id, updates };
}

/** Completes the upload: the subscription hears PROCESSING, and the queued job runs. */
async function completeRuns(pending: Awaited<ReturnType<typeof pendingUpload>>, round: string) {
  // Media's subscriber may have had to subscribe again (after a drop).
  await eventually(async () => (await subscribers(media.imageChannel(pending.id))) === 1, {
    what: `the image channel to be subscribed again (${round})`,
  });
  expect((await complete(h, alice, pending.upload.uploadId)).errors).toBeUndefined();
  await pending.updates.waitFor(
    (e) => e.imageUpdated.status === 'PROCESSING',
    `PROCESSING (${round})`,
  );
  await eventually(() => ran.includes(pending.id), {
    what: `the job of the upload of ${round} to run`,
  });
  expect(pending.updates.completed).toBe(false);
  pending.updates.unsubscribe();
}

/** Everything that uses Redis works: chat events, a chat mutation, APQ, a queued job. */
async function everythingWorks(round: string) {
  // Chat's subscriber resubscribed by itself: alice's channel is live again.
  await eventually(async () => (await subscribers(h.subject.userChannel(alice.id))) === 1, {
    what: `alice's chat channel to be subscribed again (${round})`,
  });
  await bobSays(`hello ${round}`);
  await inbox.waitFor(
    (e) => e.chatEvents.message?.text === `hello ${round}`,
    `bob's message (${round})`,
  );
  await persistedQueryWorks(round);
  await completeRuns(await pendingUpload(), round);
  // The client never noticed.
  expect(inbox.completed).toBe(false);
  expect(inbox.errors).toEqual([]);
}

/** What Redis says about its clients of one type. */
async function clientCount(type: 'normal' | 'pubsub'): Promise<number> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', type)) as string;
  return list.split('\n').filter(Boolean).length;
}

describe('services on a Redis that drops its connections', () => {
  it('serve subscriptions, mutations, persisted queries and jobs to begin with', async () => {
    await everythingWorks('before');
  }, 60_000);

  it('come back by themselves after Redis kills every client connection', async () => {
    // Live across the kill: alice's chat events, and this image's updates.
    const pending = await pendingUpload();
    // The router's, chat's, media's, the queues' and the worker's (the test's
    // own connection stays: SKIPME), then chat's and media's subscribers.
    expect(await clientCount('normal')).toBeGreaterThan(5);
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    expect(await clientCount('pubsub')).toBeGreaterThanOrEqual(2);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await completeRuns(pending, 'live across the kill');
    await everythingWorks('after the kill');
  }, 60_000);

  it('fail fast or degrade while Redis is stopped, and come back once it starts again', async () => {
    // An upload finished just before the outage, completed during it.
    const pending = await createUpload(h, alice, { byteSize: 4 });
    expect(await putUpload(pending, Buffer.from('data'))).toBe(200);

    await redis.stop();

    // A chat message needs Redis (message ids, unread counts): it fails, promptly.
    let started = Date.now();
    const refused = await h.request(SEND, {
      token: bob.token,
      variables: { c: conversationId, t: 'while down', k: randomUUID() },
    });
    expect(refused.errors?.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(5_000);

    // A persisted query's hash is a miss (the client then sends the query).
    started = Date.now();
    const miss = await fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        extensions: { persistedQuery: { version: 1, sha256Hash: sha256('query Down { x }') } },
      }),
    }).then((res) => res.json() as Promise<{ errors: { extensions: { code: string } }[] }>);
    expect(miss.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(Date.now() - started).toBeLessThan(5_000);

    // Completing an upload still answers: the image is PROCESSING, its job
    // could not be queued (completing again queues it).
    const down = await complete(h, alice, pending.uploadId);
    expect(down.errors).toBeUndefined();
    expect(down.data!.completeImageUpload.status).toBe('PROCESSING');

    await redis.start();

    await everythingWorks('after the restart');
    expect((await complete(h, alice, pending.uploadId)).errors).toBeUndefined();
    await eventually(() => ran.includes(pending.image.id), {
      what: 'the job of the upload completed during the outage to run',
    });
  }, 90_000);

  it('raised no unhandled rejection, uncaught exception or unheard Redis error', () => {
    expect(unhandled).toEqual([]);
    expect(unheardRedisErrors()).toEqual([]);
  });
});
