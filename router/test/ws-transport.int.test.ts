/**
 * The graphql-ws transport: connection auth and its close codes, queries
 * and mutations answered as over HTTP, refusals as `error` messages, and
 * one access log line per operation on a socket, subscriptions included.
 */
import { createHash } from 'node:crypto';
import { CloseCode, MessageType, parseMessage, type Message } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createRedisConnection } from '@arcadia/redis';
import { eventually } from '@arcadia/testing';
import { postJson } from './fixtures.js';
import {
  completion,
  connectWs,
  overWs,
  startNotesStack,
  type LoggedRouter,
  type NotesStack,
  type NotesInstance,
} from './transport-fixtures.js';

let stack: NotesStack;
let keys: KeyMaterial;
let notes: NotesInstance;
let router: LoggedRouter;

beforeAll(async () => {
  stack = await startNotesStack();
  ({ keys, notes, router } = stack);
});
afterAll(async () => {
  await stack?.stop();
  // Leave the shared Redis as we found it: the persisted queries registered here.
  const redis = createRedisConnection({
    url: parseEnv('ws-transport-test', servicesEnv.redis).REDIS_URL,
    name: 'ws-transport-test',
    use: 'commands',
  });
  const stored = await redis.keys(`${router.redisKeyPrefix}*`);
  if (stored.length) await redis.del(...stored);
  await redis.close();
});

const accessLine = (operationName: string) => router.accessLine(operationName);

/** A raw graphql-transport-ws socket, acknowledged; `messages` are parsed with graphql-ws's own parser. */
async function rawSocket() {
  const socket = new WebSocket(router.wsUrl, 'graphql-transport-ws');
  const messages: Message[] = [];
  socket.on('message', (data: Buffer) => messages.push(parseMessage(data.toString('utf8'))));
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: {} }));
  await eventually(() => messages.some((m) => m.type === MessageType.ConnectionAck));
  return { socket, messages };
}

describe('graphql-ws transport', () => {
  it("closes the socket with graphql-ws's Unauthorized code and the reason for a bad token", async () => {
    const socket = new WebSocket(router.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<[number, string]>((resolve) =>
      socket.on('close', (code, reason) => resolve([code, reason.toString()])),
    );
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(
      JSON.stringify({
        type: MessageType.ConnectionInit,
        payload: { authorization: 'Bearer not-a-token' },
      }),
    );
    expect(await closed).toEqual([CloseCode.Unauthorized, 'The access token is invalid.']);
  });

  it('answers a query with the data and errors HTTP gives, then a completion', async () => {
    const query = 'query Secret { secret note(id: "n1") { text } }';
    const http = await postJson(router.url, { query });
    expect(http.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const client = await connectWs(router.wsUrl);
    const ws = await completion(overWs(client, { query }));
    await client.dispose();
    expect(ws.error).toBeUndefined();
    expect(ws.results).toEqual([http.body]);
  });

  it('refuses an invalid operation with an error message carrying the errors HTTP gives', async () => {
    const query = '{ note(id: "n1") { nope } }';
    const http = await postJson(router.url, { query });
    expect(http.status).toBe(400);
    expect(http.body.errors[0]).toMatchObject({
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      locations: [{ line: 1, column: 20 }],
    });
    const client = await connectWs(router.wsUrl);
    const ws = await completion(overWs(client, { query }));
    await client.dispose();
    expect(ws.results).toEqual([]);
    expect(ws.error).toEqual(http.body.errors);
  });

  it('refuses a document over the token limit with QUERY_TOO_COMPLEX, as HTTP does', async () => {
    const request = {
      query: `query Tokens { ${'__typename '.repeat(6000)}}`,
      operationName: 'Tokens',
    };
    const http = await postJson(router.url, request);
    expect(http.body.errors).toMatchObject([
      {
        message: 'Token limit of 5000 exceeded.',
        extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'tokens' },
      },
    ]);
    const client = await connectWs(router.wsUrl);
    const ws = await completion(overWs(client, request));
    await client.dispose();
    expect(ws.error).toEqual(http.body.errors);
    await eventually(() => router.accessLines('Tokens').length === 2);
    expect(router.accessLines('Tokens').find((line) => line.transport === 'ws')).toMatchObject({
      status: 400,
      errorCodes: ['QUERY_TOO_COMPLEX'],
    });
  });

  it('serves persisted queries as HTTP does', async () => {
    const query = `query Persisted${Date.now()} { note(id: "n1") { text } }`;
    const persistedQuery = {
      version: 1,
      sha256Hash: createHash('sha256').update(query).digest('hex'),
    };
    const client = await connectWs(router.wsUrl);
    const miss = await completion(overWs(client, { query: '', extensions: { persistedQuery } }));
    expect((miss.error as any[])[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await completion(overWs(client, { query, extensions: { persistedQuery } }));
    expect(register.results).toEqual([{ data: { note: { text: 'first' } } }]);
    // Registration is written to Redis after the answer.
    await eventually(async () => {
      const hit = await completion(overWs(client, { query: '', extensions: { persistedQuery } }));
      return hit.results[0]?.data?.note?.text === 'first';
    });
    await client.dispose();
  });

  it('gives each operation on a socket its own request id and log line, with the socket caller', async () => {
    const { token } = await createTokenSigner(keys.jwtKeys).sign(
      { userId: 'u7', roles: ['USER'], scopes: [] },
      300,
    );
    const client = await connectWs(router.wsUrl, { authorization: `Bearer ${token}` });
    const first = await completion(overWs(client, { query: 'query Who1 { whoami }' }));
    const second = await completion(overWs(client, { query: 'query Who2 { whoami }' }));
    await client.dispose();
    expect([first.results, second.results]).toEqual([
      [{ data: { whoami: 'u7' } }],
      [{ data: { whoami: 'u7' } }],
    ]);
    const [one, two] = [await accessLine('Who1'), await accessLine('Who2')];
    expect(one).toMatchObject({ transport: 'ws', caller: 'u7', status: 200, outcome: 'success' });
    expect(two).toMatchObject({ transport: 'ws', caller: 'u7', status: 200, outcome: 'success' });
    expect(one.requestId).not.toBe(two.requestId);
  });

  it('logs a query the client completes before its answer as 499', async () => {
    const { socket, messages } = await rawSocket();
    socket.send(
      JSON.stringify({
        id: 'q-1',
        type: MessageType.Subscribe,
        payload: { query: 'query Abandoned { slow(ms: 300) }' },
      }),
    );
    socket.send(JSON.stringify({ id: 'q-1', type: MessageType.Complete }));
    const line = await accessLine('Abandoned');
    expect(line).toMatchObject({ transport: 'ws', status: 499, outcome: 'error' });
    expect(messages.filter((m) => m.type !== MessageType.ConnectionAck)).toEqual([]);
    socket.close();
  });

  it('logs a subscription once, when it ends, with its lifetime', async () => {
    const client = await connectWs(router.wsUrl);
    const watch = overWs(client, { query: 'subscription Watch { noteAdded { id text } }' });
    await eventually(() => notes.activeSubscriptions === 1);
    notes.publish({ id: 'n9', text: 'live' });
    await eventually(() => watch.results.length === 1);
    expect(watch.results).toEqual([{ data: { noteAdded: { id: 'n9', text: 'live' } } }]);
    // Still open: not logged yet.
    expect(router.accessLines('Watch')).toEqual([]);
    watch.stop();
    const line = await accessLine('Watch');
    await client.dispose();
    expect(line).toMatchObject({
      transport: 'ws',
      operationType: 'subscription',
      status: 200,
      outcome: 'success',
      errorCodes: [],
    });
    expect(line.durationMs).toBeGreaterThan(0);
    await eventually(() => notes.activeSubscriptions === 0);
  });

  it('refuses a subscription whose variables do not coerce with BAD_USER_INPUT', async () => {
    const client = await connectWs(router.wsUrl);
    const refused = await completion(
      overWs(client, {
        query: 'subscription Typed($n: Int!) { noteAdded(minLength: $n) { id } }',
        variables: { n: 'many' },
      }),
    );
    await client.dispose();
    expect(refused.error).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^Variable "\$n" got invalid value "many"/),
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    expect(await accessLine('Typed')).toMatchObject({ status: 400, outcome: 'error' });
  });

  it("writes every event as graphql-ws's own next message", async () => {
    const { socket, messages } = await rawSocket();
    socket.send(
      JSON.stringify({
        id: 'sub-1',
        type: MessageType.Subscribe,
        payload: { query: 'subscription { noteAdded { text } }' },
      }),
    );
    await eventually(() => notes.activeSubscriptions === 1);
    notes.publish({ id: 'n10', text: 'framed' });
    await eventually(() => messages.some((m) => m.type === MessageType.Next));
    expect(messages.find((m) => m.type === MessageType.Next)).toEqual({
      id: 'sub-1',
      type: MessageType.Next,
      payload: { data: { noteAdded: { text: 'framed' } } },
    });
    socket.close();
    await eventually(() => notes.activeSubscriptions === 0);
  });
});
