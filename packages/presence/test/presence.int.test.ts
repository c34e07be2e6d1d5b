import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createRedisConnection } from '@arcadia/redis';
import { eventually, uniqueName } from '@arcadia/testing';
import { createPresence } from '../src/index.js';

const { REDIS_URL } = parseEnv('presence-test', servicesEnv.redis);
const prefix = `${uniqueName('presence')}:`;
// Clients as the router and chat open them (callers own presence's client).
const redis = createRedisConnection({ url: REDIS_URL, name: 'presence-test', use: 'commands' });
const presence = createPresence({ redis, prefix });
// A second instance on its own client, as another router instance would be.
const otherRedis = createRedisConnection({
  url: REDIS_URL,
  name: 'presence-test-other',
  use: 'commands',
});
const other = createPresence({ redis: otherRedis, prefix });

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await Promise.all([redis.close(), otherRedis.close()]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
const newUser = () => `user-${++counter}`;

describe('presence', () => {
  it('shows a user with one connected socket as online', async () => {
    const user = newUser();
    await presence.connect(user, 's1');
    expect(await presence.online([user])).toEqual(new Set([user]));
  });

  it('keeps a user online while another of their sockets is still connected', async () => {
    const user = newUser();
    await presence.connect(user, 'tab-1');
    await other.connect(user, 'tab-2');
    await presence.disconnect(user, 'tab-1');
    expect(await other.online([user])).toEqual(new Set([user]));
  });

  it('shows a user offline with a last-seen time once their last socket disconnects', async () => {
    const user = newUser();
    await presence.connect(user, 'tab-1');
    await presence.connect(user, 'tab-2');
    await presence.disconnect(user, 'tab-1');
    const before = Date.now();
    await presence.disconnect(user, 'tab-2');
    expect(await presence.online([user])).toEqual(new Set());
    const seen = (await presence.lastSeen([user])).get(user);
    expect(seen).toBeInstanceOf(Date);
    // Redis' clock and this process's are the same machine's here.
    expect(Math.abs(seen!.getTime() - before)).toBeLessThan(1_000);
    expect(await redis.exists(`${prefix}presence:{${user}}`)).toBe(0);
  });

  it('reports no last-seen time for a user never seen', async () => {
    const user = newUser();
    expect(await presence.lastSeen([user])).toEqual(new Map([[user, null]]));
  });

  it('takes a socket whose heartbeats stopped offline after the ttl and leaves no key behind', async () => {
    const short = createPresence({ redis, prefix, ttlSeconds: 1 });
    const user = newUser();
    await short.connect(user, 'crashed');
    expect(await short.online([user])).toEqual(new Set([user]));
    await eventually(async () => (await short.online([user])).size === 0, {
      timeoutMs: 3_000,
      what: 'the socket to lapse after its 1 s ttl',
    });
    // The set expires at the same moment as its newest socket.
    await eventually(async () => (await redis.exists(`${prefix}presence:{${user}}`)) === 0, {
      what: 'the socket set to expire',
    });
    // The crash left the last time the socket was known live.
    expect((await short.lastSeen([user])).get(user)).toBeInstanceOf(Date);
  });

  it('keeps a heartbeating socket online past the ttl', async () => {
    const short = createPresence({ redis, prefix, ttlSeconds: 1 });
    const alive = newUser();
    const crashed = newUser();
    await short.connect(alive, 'a');
    await short.connect(alive, 'b');
    await short.connect(crashed, 'c');
    for (let i = 0; i < 4; i++) {
      await sleep(400);
      await short.heartbeat([
        { userId: alive, socketId: 'a' },
        { userId: alive, socketId: 'b' },
      ]);
    }
    expect(await short.online([alive, crashed])).toEqual(new Set([alive]));
  });

  it('answers for many users in one call', async () => {
    const users = Array.from({ length: 200 }, newUser);
    const connected = users.filter((_, i) => i % 3 === 0);
    await presence.heartbeat(connected.map((userId) => ({ userId, socketId: 'only' })));
    const online = await presence.online([...users, ...users]);
    expect(online).toEqual(new Set(connected));
    const seen = await presence.lastSeen(users);
    expect(seen.size).toBe(users.length);
    expect(users.filter((u) => seen.get(u) !== null)).toEqual(connected);
  });

  it('answers empty lists without a round trip', async () => {
    expect(await presence.online([])).toEqual(new Set());
    expect(await presence.lastSeen([])).toEqual(new Map());
    await presence.heartbeat([]);
  });
});
