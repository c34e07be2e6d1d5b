import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createLogger } from '@arcadia/observability';
import { createRedisConnection } from '@arcadia/redis';
import { eventually, startPrivateRedis, uniqueName, type PrivateRedis } from '@arcadia/testing';
import { createPubSub, filterEvents } from '../src/index.js';

type Events = { greeting: { text: string }; other: { n: number } };
const { REDIS_URL } = parseEnv('pubsub-test', servicesEnv.redis);
const prefix = uniqueName('pubsub');
// Two instances of a service, as two processes would have.
const a = createPubSub<Events>({ redisUrl: REDIS_URL, prefix });
const b = createPubSub<Events>({ redisUrl: REDIS_URL, prefix });
const strangerPrefix = uniqueName('pubsub');
const stranger = createPubSub<Events>({ redisUrl: REDIS_URL, prefix: strangerPrefix });
// Reads what Redis itself knows of the subscriptions.
const inspector = createRedisConnection({
  url: REDIS_URL,
  name: 'pubsub-test',
  use: 'commands',
  logger: createLogger('pubsub-test', 'silent'),
});
afterAll(() => Promise.all([a.close(), b.close(), stranger.close(), inspector.close()]));

/** Subscribers Redis counts on a channel (every instance's subscriber connection is one). */
async function subscribers(channel: string): Promise<number> {
  const [, count] = (await inspector.pubsub('NUMSUB', channel)) as [string, number];
  return Number(count);
}

/** The next event, failing the test (rather than resolving) if none comes in time. */
async function next<T>(iterator: AsyncIterator<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      iterator.next().then((r) => r.value as T),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event in time: ${what}`)), 5_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('pubsub', () => {
  it('delivers an event published by one instance to subscribers of another', async () => {
    const events = b.subscribe('greeting');
    // Redis keeps nothing for later: publish only once the SUBSCRIBE is confirmed.
    await events.subscribed;
    expect(await subscribers(`${prefix}:greeting`)).toBe(1);
    await a.publish('greeting', { text: 'hello' });
    expect(await next(events, 'hello')).toEqual({ text: 'hello' });
    await events.return?.();
    await eventually(async () => (await subscribers(`${prefix}:greeting`)) === 0);
  });

  it('keeps prefixes apart so separate deployments never hear each other', async () => {
    const events = stranger.subscribe('greeting');
    await events.subscribed;
    await a.publish('greeting', { text: 'not for you' });
    // Positive control on the same path, published after: had the first event
    // crossed prefixes, it would be ahead of this one.
    await stranger.publish('greeting', { text: 'for you' });
    expect(await next(events, 'for you')).toEqual({ text: 'for you' });
    await events.return?.();
  });

  it('filters events per subscriber and lets an idle subscriber leave at once', async () => {
    const source = b.subscribe('other');
    const events = filterEvents(source, (e) => e.n % 2 === 0);
    await source.subscribed;
    await a.publish('other', { n: 1 });
    await a.publish('other', { n: 2 });
    expect(await next(events, 'n=2')).toEqual({ n: 2 });
    const waiting = events.next();
    const started = Date.now();
    await events.return?.();
    expect(Date.now() - started).toBeLessThan(500);
    await expect(waiting).resolves.toMatchObject({ done: true });
  });

  it('subscribes a channel once for every local subscriber and leaves it with the last one', async () => {
    const channel = `${prefix}:greeting`;
    const first = b.subscribe('greeting');
    const second = b.subscribe(['greeting', 'other']);
    await Promise.all([first.subscribed, second.subscribed]);
    expect(await subscribers(channel)).toBe(1);
    await a.publish('greeting', { text: 'both' });
    expect(await next(first, 'first')).toEqual({ text: 'both' });
    expect(await next(second, 'second')).toEqual({ text: 'both' });

    await first.return?.();
    await a.publish('greeting', { text: 'still there' });
    expect(await next(second, 'after the first left')).toEqual({ text: 'still there' });
    expect(await subscribers(channel)).toBe(1);
    await second.return?.();
    await eventually(async () => (await subscribers(channel)) === 0);
  });

  it('ends its subscriptions when closed, and ends any started afterwards at once', async () => {
    const own = createPubSub<Events>({ redisUrl: REDIS_URL, prefix: uniqueName('pubsub') });
    const events = own.subscribe('greeting');
    await events.subscribed;
    const waiting = events.next();
    await own.close();
    await expect(waiting).resolves.toMatchObject({ done: true });
    // A resolver running during shutdown gets a finished subscription, not a hang.
    const late = own.subscribe('greeting');
    await expect(late.subscribed).rejects.toThrow('pubsub is closed');
    await expect(late.next()).resolves.toMatchObject({ done: true });
    await expect(own.close()).resolves.toBeUndefined();
    await expect(events.return?.()).resolves.toMatchObject({ done: true });
  });
});

describe('pubsub when Redis goes away', () => {
  // A Redis of this block's own, to stop; the shared one serves other files.
  let server: PrivateRedis;
  const unhandled: unknown[] = [];
  const collect = (error: unknown) => unhandled.push(error);
  beforeAll(async () => {
    process.on('unhandledRejection', collect);
    server = await startPrivateRedis({ args: ['--appendonly', 'no'] });
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
    process.off('unhandledRejection', collect);
  });
  const logger = createLogger('pubsub-test', 'silent');
  const open = (prefix = uniqueName('gone')) =>
    createPubSub<Events>({ redisUrl: server.url, prefix, logger });

  it('delivers again after Redis restarts, once the subscriber has subscribed again', async () => {
    const prefix = uniqueName('gone');
    const pubsub = open(prefix);
    const events = pubsub.subscribe('greeting');
    await events.subscribed;
    await server.stop();
    await server.start();
    const probe = createRedisConnection({
      url: server.url,
      name: 'probe',
      use: 'commands',
      logger,
    });
    // Redis keeps nothing for a subscriber that is away: wait until it is back.
    await eventually(async () => {
      const [, count] = (await probe.pubsub('NUMSUB', `${prefix}:greeting`)) as [string, number];
      return Number(count) === 1;
    });
    await probe.close();
    await eventually(async () => {
      // The publisher may still be reconnecting; its failure is the caller's to retry.
      await pubsub.publish('greeting', { text: 'back' }).catch(() => undefined);
      return true;
    });
    expect(await next(events, 'back')).toEqual({ text: 'back' });
    await pubsub.close();
  });

  it('lets subscriptions end while Redis is down and after close() without unhandled rejections', async () => {
    const pubsub = open();
    const ended = pubsub.subscribe('greeting');
    const endsAfterClose = pubsub.subscribe('other');
    await Promise.all([ended.subscribed, endsAfterClose.subscribed]);
    await server.stop();
    // Its UNSUBSCRIBE waits for a Redis that is not coming back before close().
    await expect(ended.return?.()).resolves.toMatchObject({ done: true });
    // Subscribing while Redis is down: the SUBSCRIBE is queued, never answered.
    const neverLive = pubsub.subscribe('greeting');
    await pubsub.close();
    await expect(neverLive.subscribed).rejects.toThrow();
    await expect(neverLive.next()).resolves.toMatchObject({ done: true });
    // A server closing sockets after the pub/sub (the subgraph kit's order).
    await expect(endsAfterClose.return?.()).resolves.toMatchObject({ done: true });
    await expect(pubsub.publish('greeting', { text: 'late' })).rejects.toThrow();
    await server.start();
    expect(unhandled).toEqual([]);
  });
});
