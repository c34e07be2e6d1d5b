import { createClient as createSseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenSigner, type Caller, type KeyMaterial } from '@arcadia/auth';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createLogger } from '@arcadia/observability';
import { createPresence, type Presence } from '@arcadia/presence';
import { createRedisConnection } from '@arcadia/redis';
import {
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type TestSupergraph,
  eventually,
} from '@arcadia/testing';
import { trackSocketPresence } from '../src/presence.js';
import { chatSubgraph, type ChatInstance } from './subscription-fixtures.js';

const { REDIS_URL } = parseEnv('router-presence-test', servicesEnv.redis);
// Presence keys of this file only; chat (a reader of presence) would use the same prefix.
const prefix = `${uniqueName('presence')}:`;
const redis = createRedisConnection({
  url: REDIS_URL,
  name: 'router-presence-test',
  use: 'commands',
});
const presence: Presence = createPresence({ redis, prefix });

let keys: KeyMaterial;
let chat: ChatInstance;
let supergraph: TestSupergraph;
let wsUrl: string;

async function token(caller: Partial<Caller> & { userId: string }) {
  const signed = await createTokenSigner(keys.jwtKeys).sign(
    { roles: ['USER'], scopes: [], ...caller },
    300,
  );
  return signed.token;
}

/** A graphql-ws client of the router; resolves once the router acknowledged it. */
async function connect(bearer?: string): Promise<Client> {
  let connected!: () => void;
  const acknowledged = new Promise<void>((resolve) => (connected = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: bearer ? { authorization: `Bearer ${bearer}` } : {},
    on: { connected: () => connected() },
    onNonLazyError: () => {},
  });
  await acknowledged;
  return client;
}

const isOnline = async (userId: string) => (await presence.online([userId])).has(userId);
const presenceKeys = () => redis.keys(`${prefix}*`);

beforeAll(async () => {
  keys = await testKeyMaterial();
  chat = chatSubgraph(keys, REDIS_URL, uniqueName('presence_chat'));
  supergraph = await startSupergraph({
    subgraphs: [chat.server],
    keys,
    // A one-second ttl (heartbeat every 333 ms) shows the heartbeat at work quickly.
    routerEnv: { PRESENCE_PREFIX: prefix, PRESENCE_TTL_SECONDS: '1' },
  });
  wsUrl = supergraph.url.replace(/^http/, 'ws');
});

afterAll(async () => {
  await supergraph?.stop();
  const left = await presenceKeys();
  if (left.length) await redis.del(...left);
  await redis.close();
});

describe('socket presence', () => {
  it('shows a signed-in user online while their socket is open and offline once it closes', async () => {
    const client = await connect(await token({ userId: 'ws-user' }));
    await eventually(() => isOnline('ws-user'));
    await client.dispose();
    await eventually(async () => !(await isOnline('ws-user')));
    expect((await presence.lastSeen(['ws-user'])).get('ws-user')).toBeInstanceOf(Date);
  });

  it('keeps a connected user online past the ttl with its heartbeat', async () => {
    const client = await connect(await token({ userId: 'long-stay' }));
    await eventually(() => isOnline('long-stay'));
    // Wait (on Redis' clock, which presence uses) until the expiry the socket
    // was first given has passed: only heartbeats can keep it online now.
    const [, firstExpiry] = await redis.zrange(
      `${prefix}presence:{long-stay}`,
      -1,
      -1,
      'WITHSCORES',
    );
    await eventually(
      async () => {
        const [seconds, micros] = await redis.time();
        return Number(seconds) * 1000 + Number(micros) / 1000 > Number(firstExpiry) + 100;
      },
      { timeoutMs: 5_000, what: 'the first expiry of the socket to pass' },
    );
    expect(await isOnline('long-stay')).toBe(true);
    await client.dispose();
    await eventually(async () => !(await isOnline('long-stay')));
  });

  it('keeps a user online while a second socket of theirs is open', async () => {
    const bearer = await token({ userId: 'two-tabs' });
    const first = await connect(bearer);
    const second = await connect(bearer);
    await eventually(() => isOnline('two-tabs'));
    await first.dispose();
    await eventually(async () => (await redis.zcard(`${prefix}presence:{two-tabs}`)) === 1);
    expect(await isOnline('two-tabs')).toBe(true);
    await second.dispose();
    await eventually(async () => !(await isOnline('two-tabs')));
  });

  it('registers nothing for anonymous sockets or partner client tokens', async () => {
    const anonymous = await connect();
    const partner = await connect(
      await token({ userId: 'partner-owner', roles: ['PARTNER'], clientId: 'client-1' }),
    );
    // Writes are fire and forget: a signed-in socket opened after them
    // shows when theirs would have landed.
    const witness = await connect(await token({ userId: 'witness' }));
    await eventually(() => isOnline('witness'));
    expect(await presence.online(['partner-owner'])).toEqual(new Set());
    // Only the witness has a socket set, and the partner's owner was never seen.
    const socketSets = (await presenceKeys()).filter((key) => !key.endsWith(':seen'));
    expect(socketSets).toEqual([`${prefix}presence:{witness}`]);
    expect((await presence.lastSeen(['partner-owner'])).get('partner-owner')).toBeNull();
    await Promise.all([anonymous.dispose(), partner.dispose(), witness.dispose()]);
    await eventually(async () => !(await isOnline('witness')));
  });

  it('shows a user with an open SSE subscription online', async () => {
    const bearer = await token({ userId: 'sse-user' });
    const sse = createSseClient({
      url: supergraph.url,
      retryAttempts: 0,
      headers: { authorization: `Bearer ${bearer}` },
    });
    const stop = sse.subscribe(
      { query: 'subscription { inbox }' },
      {
        next: () => {},
        error: () => {},
        complete: () => {},
      },
    );
    await eventually(() => isOnline('sse-user'));
    stop();
    sse.dispose();
    await eventually(async () => !(await isOnline('sse-user')));
  });

  it('takes the sockets of a router that shuts down out of presence', async () => {
    await connect(await token({ userId: 'on-shutdown' }));
    await eventually(() => isOnline('on-shutdown'));
    await supergraph.router.close();
    expect(await isOnline('on-shutdown')).toBe(false);
  });
});

describe('socket presence when Redis fails', () => {
  it('never throws at or waits for the socket, and logs a warning', async () => {
    const logger = createLogger('presence-test', 'silent');
    const warn = vi.spyOn(logger, 'warn');
    const down = new Error('redis down');
    const failing: Presence = {
      connect: () => Promise.reject(down),
      heartbeat: () => Promise.reject(down),
      disconnect: () => Promise.reject(down),
      online: () => Promise.reject(down),
      lastSeen: () => Promise.reject(down),
    };
    const tracker = trackSocketPresence(failing, { ttlSeconds: 1, logger });
    const socketId = tracker.register({ userId: 'u', roles: ['USER'], scopes: [] });
    expect(socketId).toEqual(expect.any(String));
    tracker.release(socketId);
    tracker.release(socketId);
    await tracker.close();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(tracker.register({ userId: 'u', roles: ['USER'], scopes: [] })).toBeNull();
  });
});
