import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@arcadia/observability';
import { eventually, startPrivateRedis, type PrivateRedis } from '@arcadia/testing';
import {
  createRedisConnection,
  RECONNECT_MAX_MS,
  type RedisConnection,
  type RedisUse,
} from '../src/index.js';

// A Redis of this file's own: the tests kill its clients, stop and start it,
// which would break every other file running against the shared one.
let server: PrivateRedis;
let admin: RedisConnection;

// What must stay empty: the point of the connections is that a drop never
// surfaces as an unhandled rejection or an uncaught 'error' event.
const unhandled: unknown[] = [];
const collect = (error: unknown) => unhandled.push(error);

beforeAll(async () => {
  process.on('unhandledRejection', collect);
  process.on('uncaughtException', collect);
  server = await startPrivateRedis({ args: ['--appendonly', 'no'] });
  admin = createRedisConnection({
    url: server.url,
    name: 'test-admin',
    use: 'commands',
    logger: createLogger('redis-test', 'silent'),
  });
}, 30_000);

const opened: RedisConnection[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  // Each test ends with the server up, whatever it did to it.
  await eventually(async () => (await admin.ping().catch(() => null)) === 'PONG');
});

afterAll(async () => {
  await admin?.close();
  await server?.dispose();
  process.off('unhandledRejection', collect);
  process.off('uncaughtException', collect);
  expect(unhandled).toEqual([]);
});

/** A connection to the private server whose log lines the test reads. */
function open(use: RedisUse, name = `test-${use}`) {
  const lines: { level: string; msg: string; connection?: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  const connection = createRedisConnection({
    url: server.url,
    name,
    use,
    logger: createLogger('redis-test', 'debug', destination),
    closeTimeoutMs: 500,
  });
  opened.push(connection);
  return { connection, lines };
}

/** Clients of a type the server has now, by name. */
async function clients(type: 'normal' | 'pubsub'): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', type)) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '');
}

describe('connections that lose Redis', () => {
  it('come back by themselves after the server kills every client connection', async () => {
    const { connection, lines } = open('commands');
    await connection.set('k', 'before');
    await eventually(async () => (await clients('normal')).includes('arcadia:test-commands'));

    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');

    expect(await connection.get('k')).toBe('before');
    // A connection that comes straight back is not an outage worth a line.
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('fail a command fast while Redis is down, log the outage once and work again once it is back', async () => {
    const { connection, lines } = open('commands');
    await connection.ping();
    await server.stop();
    // Many reconnection attempts fail meanwhile; the first one is logged.
    await eventually(() => lines.some((l) => l.level === 'warn'));

    const started = Date.now();
    await expect(connection.get('k')).rejects.toThrow(/max retries per request/i);
    expect(Date.now() - started).toBeLessThan(3_000);

    await server.start();
    await eventually(async () => (await connection.ping().catch(() => null)) === 'PONG');
    await eventually(() => lines.some((l) => l.msg === 'redis available again'));
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'redis unavailable; reconnecting',
    ]);
    expect(lines.find((l) => l.level === 'warn')?.connection).toBe('test-commands');
  });

  it('hold a worker command through an outage and answer it once Redis is back', async () => {
    const { connection } = open('worker');
    await connection.set('held', 'yes');
    await server.stop();
    await eventually(() => connection.status === 'reconnecting');
    const answer = connection.get('held');
    await server.start();
    // Without --appendonly the restart lost the key: answered, not failed.
    expect(await answer).toBeNull();
  });
});

describe('subscriber connections', () => {
  it('keep a subscription made while the connection is still connecting', async () => {
    // Subscribing on 'connect' sends SUBSCRIBE before ioredis' ready check
    // (redis/ioredis#2037): with the check on, the connection failed and
    // forgot the channel.
    const { connection, lines } = open('subscriber');
    const received: string[] = [];
    connection.on('message', (_channel: string, message: string) => received.push(message));
    await new Promise<void>((resolve) => connection.once('connect', () => resolve()));
    await connection.subscribe('early');
    await admin.publish('early', 'hello');
    await eventually(() => received.length === 1);
    expect(received).toEqual(['hello']);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('subscribe again after their connection is killed and after a restart', async () => {
    const { connection } = open('subscriber');
    const received: string[] = [];
    connection.on('message', (_channel: string, message: string) => received.push(message));
    await connection.subscribe('events');
    const subscribers = async () =>
      Number(((await admin.pubsub('NUMSUB', 'events')) as [string, number])[1]);

    await admin.client('KILL', 'TYPE', 'pubsub');
    await eventually(async () => (await subscribers()) === 1);
    await admin.publish('events', 'after kill');

    await server.stop();
    await server.start();
    await eventually(async () => (await subscribers().catch(() => 0)) === 1);
    await admin.publish('events', 'after restart');

    await eventually(() => received.length === 2);
    expect(received).toEqual(['after kill', 'after restart']);
  });
});

describe('closing a connection', () => {
  it('answers the commands already sent before it quits, and may be called twice', async () => {
    const { connection } = open('commands');
    await connection.ping();
    const writes = Array.from({ length: 200 }, (_, i) => connection.set(`close:${i}`, String(i)));
    const closed = connection.close();
    expect(connection.close()).toBe(closed);
    await closed;
    expect(await Promise.all(writes)).toEqual(writes.map(() => 'OK'));
    expect(connection.status).toBe('end');
    expect(await admin.get('close:199')).toBe('199');
  });

  it('ends while Redis is away and fails the commands still waiting for it', async () => {
    const { connection } = open('worker');
    await connection.ping();
    await server.stop();
    await eventually(() => connection.status === 'reconnecting');
    const waiting = connection.get('never');
    const started = Date.now();
    await connection.close();
    expect(Date.now() - started).toBeLessThan(RECONNECT_MAX_MS + 1_000);
    await expect(waiting).rejects.toThrow('Connection is closed');
    expect(connection.status).toBe('end');
    await server.start();
  });

  it('ends a connection waiting to reconnect within one backoff delay, and fails later commands at once', async () => {
    const { connection } = open('subscriber');
    await connection.subscribe('gone');
    await server.stop();
    await eventually(() => connection.status === 'reconnecting');
    const started = Date.now();
    await connection.close();
    expect(Date.now() - started).toBeLessThan(RECONNECT_MAX_MS + 1_000);
    expect(connection.status).toBe('end');
    await expect(connection.subscribe('after')).rejects.toThrow('Connection is closed');
    await server.start();
  });
});
