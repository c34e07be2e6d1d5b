/**
 * Connections that hold resources without using them: sockets that never
 * send `connection_init`, acknowledged sockets that never subscribe, TCP
 * connections that never send a request, and more connections from one
 * client address than MAX_CONNECTIONS_PER_CLIENT.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { CloseCode, MessageType, parseMessage } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@arcadia/testing';
import {
  completion,
  connectWs,
  overWs,
  startNotesStack,
  type NotesStack,
} from './transport-fixtures.js';

/** How a raw socket ended: its close code and reason, once closed. */
interface Closed {
  code: number;
  reason: string;
}

/** A raw graphql-transport-ws socket that records its close; `init` sends connection_init. */
async function rawSocket(wsUrl: string, init: boolean) {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  let closed: Closed | undefined;
  let acknowledged = false;
  socket.on('close', (code, reason) => (closed = { code, reason: reason.toString('utf8') }));
  socket.on('message', (data: Buffer) => {
    if (parseMessage(data.toString('utf8')).type === MessageType.ConnectionAck) acknowledged = true;
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  if (init) {
    socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: {} }));
    await eventually(() => acknowledged, { what: 'connection_ack' });
  }
  return {
    socket,
    get closed() {
      return closed;
    },
  };
}

/** The status of a WebSocket handshake the server refuses, or `open` when it accepts it. */
function handshake(wsUrl: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

/** A GraphQL POST on a connection of its own (no keep-alive pool), resolving to its status. */
function postOnNewConnection(url: string, query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

describe('idle connections', () => {
  let stack: NotesStack;
  beforeAll(async () => {
    stack = await startNotesStack({
      WS_INIT_TIMEOUT_MS: '300',
      WS_IDLE_TIMEOUT_MS: '300',
      HTTP_HEADERS_TIMEOUT_MS: '300',
    });
  });
  afterAll(() => stack?.stop());

  it('closes a socket that never sends connection_init with 4408', async () => {
    const silent = await rawSocket(stack.router.wsUrl, false);
    const closed = await eventually(() => silent.closed, { timeoutMs: 2_000, what: 'the close' });
    expect(closed.code).toBe(CloseCode.ConnectionInitialisationTimeout);
  });

  it('closes an acknowledged socket that runs no operation, and keeps one with a subscription open', async () => {
    const idle = await rawSocket(stack.router.wsUrl, true);
    const client = await connectWs(stack.router.wsUrl);
    const subscription = overWs(client, { query: 'subscription { noteAdded { id text } }' });
    await eventually(() => stack.notes.activeSubscriptions > 0, { what: 'the subscription' });

    const closed = await eventually(() => idle.closed, { what: 'the idle socket closed' });
    expect(closed).toEqual({ code: 1000, reason: 'Idle timeout' });
    // Well past the idle timeout, the socket with a subscription still gets its events.
    await new Promise((resolve) => setTimeout(resolve, 400));
    stack.notes.publish({ id: 'n9', text: 'still here' });
    await eventually(() => subscription.results.length > 0, { what: 'the event' });
    expect(subscription.results[0]).toEqual({
      data: { noteAdded: { id: 'n9', text: 'still here' } },
    });
    subscription.stop();
    await client.dispose();
  });

  it('closes a socket once its last operation has ended and it stays idle', async () => {
    const client = await connectWs(stack.router.wsUrl);
    let closed: { code: number; reason: string } | undefined;
    client.on('closed', (event) => {
      const { code, reason } = event as Closed;
      closed = { code, reason };
    });
    const answer = overWs(client, { query: '{ note(id: "n1") { text } }' });
    await completion(answer);
    expect(answer.results[0]).toEqual({ data: { note: { text: 'first' } } });
    expect(await eventually(() => closed, { what: 'the close' })).toEqual({
      code: 1000,
      reason: 'Idle timeout',
    });
  });

  it('closes a TCP connection that sends no request, while requests on other connections are answered', async () => {
    const { port } = new URL(stack.router.url);
    const socket = connect(Number(port), '127.0.0.1');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    // Reading, so that the server's end of the connection is seen.
    socket.resume();
    // One that sends half its headers and stops: closed the same way.
    const slow = connect(Number(port), '127.0.0.1', () => slow.write('POST /graphql HTTP/1.1\r\n'));
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    slow.on('error', () => {});
    slow.resume();
    expect(await postOnNewConnection(stack.router.url, '{ __typename }')).toBe(200);
    await eventually(() => closed && slowClosed, {
      what: () => `both connections closed; silent: ${closed}, slow: ${slowClosed}`,
    });
  });
});

describe('connections per client address', () => {
  let stack: NotesStack;
  beforeAll(async () => {
    stack = await startNotesStack({ MAX_CONNECTIONS_PER_CLIENT: '2' });
  });
  afterAll(() => stack?.stop());

  it('refuses connections beyond the cap with 429 until one of them closes', async () => {
    const first = await rawSocket(stack.router.wsUrl, true);
    const second = await rawSocket(stack.router.wsUrl, true);
    expect(await handshake(stack.router.wsUrl)).toBe(429);
    expect(await postOnNewConnection(stack.router.url, '{ __typename }')).toBe(429);

    first.socket.close();
    await eventually(() => first.closed, { what: 'the first socket closed' });
    // The server sees the close a moment after the client: retried until admitted.
    await eventually(async () => (await handshake(stack.router.wsUrl)) === 'open', {
      what: 'a socket admitted again',
    });
    second.socket.close();
  });
});
