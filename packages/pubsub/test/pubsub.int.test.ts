import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from '@arcadia/testing';
import { createPubSub, filterEvents } from '../src/index.js';

type Events = { greeting: { text: string }; other: { n: number } };
const { REDIS_URL } = parseEnv('pubsub-test', servicesEnv.redis);
const prefix = uniqueName('pubsub');
// Two instances of a service, as two processes would have.
const a = createPubSub<Events>({ redisUrl: REDIS_URL, prefix });
const b = createPubSub<Events>({ redisUrl: REDIS_URL, prefix });
const stranger = createPubSub<Events>({ redisUrl: REDIS_URL, prefix: uniqueName('pubsub') });
afterAll(() => Promise.all([a.close(), b.close(), stranger.close()]));

async function next<T>(iterator: AsyncIterator<T>, ms = 2000): Promise<T | 'timeout'> {
  return Promise.race([
    iterator.next().then((r) => r.value as T),
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms)),
  ]);
}

describe('pubsub', () => {
  it('delivers an event published by one instance to subscribers of another', async () => {
    const events = b.subscribe('greeting');
    const received = next(events);
    // The subscription reaches Redis asynchronously; give it a moment.
    await new Promise((r) => setTimeout(r, 100));
    await a.publish('greeting', { text: 'hello' });
    expect(await received).toEqual({ text: 'hello' });
    await events.return?.();
  });

  it('keeps prefixes apart so separate deployments never hear each other', async () => {
    const events = stranger.subscribe('greeting');
    const received = next(events, 500);
    await new Promise((r) => setTimeout(r, 100));
    await a.publish('greeting', { text: 'not for you' });
    expect(await received).toBe('timeout');
    await events.return?.();
  });

  it('filters events per subscriber and lets an idle subscriber leave at once', async () => {
    const events = filterEvents(b.subscribe('other'), (e) => e.n % 2 === 0);
    const received = next(events);
    await new Promise((r) => setTimeout(r, 100));
    await a.publish('other', { n: 1 });
    await a.publish('other', { n: 2 });
    expect(await received).toEqual({ n: 2 });
    const waiting = events.next();
    const started = Date.now();
    await events.return?.();
    expect(Date.now() - started).toBeLessThan(500);
    await expect(waiting).resolves.toMatchObject({ done: true });
  });
});
