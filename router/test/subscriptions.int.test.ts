import { createClient as createSseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALLER_HEADER,
  createCallerSigner,
  createTokenSigner,
  type KeyMaterial,
} from '@arcadia/auth';
import { parseEnv, servicesEnv } from '@arcadia/config';
import {
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type TestSupergraph,
  eventually,
} from '@arcadia/testing';
import {
  chatSubgraph,
  mediaSubgraph,
  usersSubgraph,
  type ChatInstance,
} from './subscription-fixtures.js';

const { REDIS_URL } = parseEnv('router-subscriptions-test', servicesEnv.redis);
const prefix = uniqueName('subs');
const MESSAGE_QUERY = /* GraphQL */ `
  subscription Room($room: ID!) {
    messageAdded(room: $room) {
      id
      text
      sender {
        id
        name
        avatar {
          url
        }
      }
    }
  }
`;

let keys: KeyMaterial;
/** POSTs the users subgraph has received. */
let usersPosts = 0;
let chat: ChatInstance;
let restarted: ChatInstance | undefined;
let supergraph: TestSupergraph;
let wsUrl: string;
/** The router's metrics URL, listened on at the first read. */
let metricsUrl: Promise<string> | undefined;

/** A graphql-ws client of the router that records how its socket closed. */
function client(token?: string, params?: Record<string, unknown>) {
  const closes: { code: number; reason: string }[] = [];
  const c = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: params ?? (token ? { authorization: `Bearer ${token}` } : {}),
    on: { closed: (e) => closes.push(e as { code: number; reason: string }) },
    onNonLazyError: () => {},
  });
  return Object.assign(c, { closes });
}

/** A signed-in graphql-ws client of the router for each of `userIds`. */
async function userClients(userIds: readonly string[]) {
  const signer = createTokenSigner(keys.jwtKeys);
  return Promise.all(
    userIds.map(async (userId) => {
      const { token } = await signer.sign({ userId, roles: ['USER'], scopes: [] }, 300);
      return client(token);
    }),
  );
}

/** Subscribes and collects every `next` payload until the subscription ends. */
function subscribe(c: Client, query: string, variables: Record<string, unknown> = {}) {
  const events: any[] = [];
  let error: unknown;
  let completed = false;
  const unsubscribe = c.subscribe(
    { query, variables },
    {
      next: (value) => events.push(value),
      error: (e) => {
        error = e;
        completed = true;
      },
      complete: () => {
        completed = true;
      },
    },
  );
  return {
    events,
    unsubscribe,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
  };
}

async function metric(name: string): Promise<number> {
  metricsUrl ??= supergraph.router.listenMetrics(0);
  const text = await (await fetch(await metricsUrl)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function send(room: string, text: string, senderId = 'u1') {
  await chat.publish({ id: `m-${text}`, room, text, sender: { id: senderId } });
}

beforeAll(async () => {
  keys = await testKeyMaterial();
  chat = chatSubgraph(keys, REDIS_URL, prefix);
  const users = usersSubgraph(keys);
  // Counted before the GraphQL route, which is mounted when the server starts.
  users.app.use('/graphql', (req, _res, next) => {
    if (req.method === 'POST') usersPosts++;
    next();
  });
  supergraph = await startSupergraph({
    subgraphs: [chat.server, users, mediaSubgraph(keys)],
    keys,
    routerEnv: {
      SUBSCRIPTION_RETRY_BASE_MS: '100',
      SUBSCRIPTION_RETRY_ATTEMPTS: '20',
      // A test below connects 200 clients, all from 127.0.0.1.
      MAX_CONNECTIONS_PER_CLIENT: '0',
    },
  });
  wsUrl = supergraph.url.replace(/^http/, 'ws');
});

afterAll(async () => {
  await supergraph?.stop();
  await restarted?.server.close();
});

describe('federated subscriptions', () => {
  it('resolve fields from two other subgraphs for every event', async () => {
    const c = client();
    const sub = subscribe(c, MESSAGE_QUERY, { room: 'lobby' });
    // Counted once Redis confirmed the subgraph's SUBSCRIBE: nothing published now is lost.
    await eventually(() => chat.activeIn('lobby') === 1);
    await send('lobby', 'one', 'u1');
    await send('lobby', 'two', 'u2');
    await send('lobby', 'three', 'u1');
    await eventually(() => sub.events.length === 3);
    expect(sub.events).toEqual([
      {
        data: {
          messageAdded: {
            id: 'm-one',
            text: 'one',
            sender: { id: 'u1', name: 'Alice', avatar: { url: 'https://cdn.example/u1.webp' } },
          },
        },
      },
      {
        data: {
          messageAdded: {
            id: 'm-two',
            text: 'two',
            sender: { id: 'u2', name: 'Bob', avatar: { url: 'https://cdn.example/u2.webp' } },
          },
        },
      },
      {
        data: {
          messageAdded: {
            id: 'm-three',
            text: 'three',
            sender: { id: 'u1', name: 'Alice', avatar: { url: 'https://cdn.example/u1.webp' } },
          },
        },
      },
    ]);
    sub.unsubscribe();
    await eventually(() => chat.activeIn('lobby') === 0);
    await c.dispose();
  });

  it('share one upstream subscription among 200 clients and close it after the last leaves', async () => {
    const clients = Array.from({ length: 200 }, () => client());
    const subs = clients.map((c) => subscribe(c, MESSAGE_QUERY, { room: 'arena' }));
    await eventually(async () => (await metric('subscription_client_operations')) === 200);
    await eventually(() => chat.activeIn('arena') === 1);
    expect(await metric('subscription_upstreams')).toBe(1);
    await send('arena', 'hello all');
    await eventually(() => subs.every((s) => s.events.length === 1));
    expect(subs[199]!.events[0].data.messageAdded.sender.name).toBe('Alice');

    subs.slice(0, 199).forEach((s) => s.unsubscribe());
    await eventually(async () => (await metric('subscription_client_operations')) === 1);
    expect(chat.activeIn('arena')).toBe(1);
    subs[199]!.unsubscribe();
    await eventually(() => chat.activeIn('arena') === 0);
    expect(await metric('subscription_upstreams')).toBe(0);
    await Promise.all(clients.map(async (c) => c.dispose()));
  });

  it("carry every user's own subscriptions over one socket per subgraph, each with its own caller", async () => {
    const users = Array.from({ length: 20 }, (_, i) => `mux-${i}`);
    const clients = await userClients(users);
    const before = chat.activeInboxes;
    const subs = clients.map((c) => subscribe(c, 'subscription { inbox }'));
    await eventually(() => chat.activeInboxes === before + users.length);
    // One upstream operation per user (their data differs), one socket for all of them.
    expect(await metric('subscription_upstreams{service="chat"}')).toBeGreaterThanOrEqual(
      users.length,
    );
    expect(await metric('subscription_upstream_sockets{service="chat"}')).toBe(1);
    await Promise.all(users.map((userId) => chat.publishInbox(userId, `for ${userId}`)));
    await eventually(() => subs.every((s) => s.events.length === 1));
    // Each got exactly their own mail: the subgraph saw each operation's own caller.
    expect(subs.map((s) => s.events[0].data.inbox)).toEqual(users.map((u) => `for ${u}`));
    subs.forEach((s) => s.unsubscribe());
    await eventually(() => chat.activeInboxes === before);
    await Promise.all(clients.map(async (c) => c.dispose()));
  });

  it('resolve one event for many callers with one batched request to each other subgraph, each caller seeing its own answer', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `batch-${i}`);
    const clients = await userClients(users);
    const query =
      'subscription ($room: ID!) { memberView(room: $room) { text sender { name viewer } } }';
    const subs = clients.map((c) => subscribe(c, query, { room: 'batched' }));
    await eventually(() => chat.activeIn('batched') === users.length);
    const postsBefore = usersPosts;
    await send('batched', 'to all');
    await eventually(() => subs.every((s) => s.events.length === 1));
    // Each caller's entity fetch ran as that caller…
    expect(subs.map((s) => s.events[0].data.memberView.sender)).toEqual(
      users.map((userId) => ({ name: 'Alice', viewer: userId })),
    );
    // …and they went to the users subgraph batched: a request or two, not twenty.
    expect(usersPosts - postsBefore).toBeGreaterThanOrEqual(1);
    expect(usersPosts - postsBefore).toBeLessThanOrEqual(2);
    subs.forEach((s) => s.unsubscribe());
    await Promise.all(clients.map(async (c) => c.dispose()));
  });

  it('deliver events published by a second subgraph instance', async () => {
    const second = chatSubgraph(keys, REDIS_URL, prefix);
    const secondUrl = await second.server.listen(0);
    try {
      const c = client();
      const sub = subscribe(c, MESSAGE_QUERY, { room: 'cross' });
      await eventually(() => chat.activeIn('cross') === 1);
      const request = {
        query: 'mutation { send(room: "cross", text: "from B", senderId: "u2") { id } }',
      };
      const header = await createCallerSigner(keys.internalSecrets)(
        { userId: 'u2', roles: [], scopes: [] },
        { audience: 'chat', request },
      );
      const res = await fetch(secondUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CALLER_HEADER]: header },
        body: JSON.stringify(request),
      });
      expect(res.status).toBe(200);
      await eventually(() => sub.events.length === 1);
      expect(sub.events[0].data.messageAdded).toMatchObject({
        text: 'from B',
        sender: { name: 'Bob' },
      });
      expect(second.activeSubscriptions).toBe(0);
      await c.dispose();
    } finally {
      await second.server.close();
    }
  });

  it('deliver events over Server-Sent Events too', async () => {
    const sse = createSseClient({ url: supergraph.url, retryAttempts: 0 });
    const received: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const stop = sse.subscribe(
        { query: MESSAGE_QUERY, variables: { room: 'sse' } },
        {
          next: (value) => {
            received.push(value);
            if (received.length === 2) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    await eventually(() => chat.activeIn('sse') === 1);
    await send('sse', 'first', 'u2');
    await send('sse', 'second', 'u1');
    await done;
    expect(
      received.map((r) => [r.data.messageAdded.text, r.data.messageAdded.sender.name]),
    ).toEqual([
      ['first', 'Bob'],
      ['second', 'Alice'],
    ]);
    sse.dispose();
    await eventually(() => chat.activeIn('sse') === 0);
  });

  it('refuse an anonymous subscribe to a protected field', async () => {
    const c = client();
    const sub = subscribe(c, 'subscription { inbox }');
    await eventually(() => sub.completed);
    const errors = (sub.error as any[]) ?? sub.events.flatMap((e) => e.errors ?? []);
    expect(errors[0].extensions.code).toBe('UNAUTHENTICATED');
    await c.dispose();
  });

  it('refuse a bad token at connection time with a reason', async () => {
    const c = client('not-a-token');
    const sub = subscribe(c, MESSAGE_QUERY, { room: 'x' });
    await eventually(() => c.closes.length > 0);
    expect(c.closes[0]).toMatchObject({ code: 4401, reason: 'The access token is invalid.' });
    expect(sub.events).toEqual([]);
    await c.dispose();
  });

  it('read the token from headers nested in the connection params, as Sandbox may send it', async () => {
    const bad = client(undefined, { headers: { Authorization: 'Bearer not-a-token' } });
    subscribe(bad, MESSAGE_QUERY, { room: 'x' });
    await eventually(() => bad.closes.length > 0);
    expect(bad.closes[0]).toMatchObject({ code: 4401, reason: 'The access token is invalid.' });
    await bad.dispose();

    const { token } = await createTokenSigner(keys.jwtKeys).sign(
      { userId: 'u1', roles: ['USER'], scopes: [] },
      60,
    );
    const good = client(undefined, { headers: { Authorization: `Bearer ${token}` } });
    const sub = subscribe(good, 'subscription { inbox }');
    // Accepted as u1: the inbox subscription goes live and u1's mail arrives.
    await eventually(() => chat.activeInboxes === 1 || sub.completed);
    await chat.publishInbox('u1', 'for u1');
    await eventually(() => sub.events.length === 1 || sub.completed);
    expect(sub.error).toBeUndefined();
    expect(sub.events).toEqual([{ data: { inbox: 'for u1' } }]);
    expect(sub.completed).toBe(false);
    expect(good.closes).toEqual([]);
    await good.dispose();
  });

  it('close the socket with a clear reason when the token expires', async () => {
    const { token } = await createTokenSigner(keys.jwtKeys).sign(
      { userId: 'u1', roles: ['USER'], scopes: [] },
      2,
    );
    const c = client(token);
    subscribe(c, MESSAGE_QUERY, { room: 'expiry' });
    await eventually(() => c.closes.length > 0, 5_000);
    expect(c.closes[0]).toMatchObject({ code: 4401, reason: 'Token expired' });
    await c.dispose();
  });

  it('refuse an operation over the limits with QUERY_TOO_COMPLEX', async () => {
    const c = client();
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(' ');
    const sub = subscribe(c, `subscription { messageAdded(room: "x") { ${aliases} } }`);
    await eventually(() => sub.completed);
    expect((sub.error as any[])[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    await c.dispose();
  });

  it('keep clients connected across a restart of the owning subgraph', async () => {
    const c = client();
    const sub = subscribe(c, MESSAGE_QUERY, { room: 'restart' });
    await eventually(() => chat.activeIn('restart') === 1);
    const port = Number(new URL(supergraph.subgraphUrls.chat!).port);

    await supergraph.stopSubgraph('chat');
    restarted = chatSubgraph(keys, REDIS_URL, prefix);
    await restarted.server.listen(port);
    await eventually(() => restarted!.activeIn('restart') === 1, 15_000);
    await restarted.publish({
      id: 'm-after',
      room: 'restart',
      text: 'after restart',
      sender: { id: 'u2' },
    });
    await eventually(() => sub.events.length === 1);
    expect(sub.events[0].data.messageAdded).toMatchObject({
      text: 'after restart',
      sender: { name: 'Bob' },
    });
    expect(c.closes).toEqual([]);
    expect(await metric('subscription_upstream_reconnects_total')).toBeGreaterThanOrEqual(1);
    await c.dispose();
  }, 30_000);
});

describe('subscriptions and their limits', () => {
  it('point plain HTTP subscription requests to the streaming transports', async () => {
    const res = await supergraph.request(MESSAGE_QUERY, { variables: { room: 'http' } });
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.message).toMatch(/graphql-ws/);
  });

  it('disconnect a client that stops reading instead of buffering its events', async () => {
    const k = await testKeyMaterial();
    const owner = chatSubgraph(k, REDIS_URL, uniqueName('subs'));
    const graph = await startSupergraph({
      subgraphs: [owner.server, usersSubgraph(k), mediaSubgraph(k)],
      keys: k,
      routerEnv: { SUBSCRIPTION_CLIENT_BUFFER: '5', SUBSCRIPTION_SOCKET_BUFFER_BYTES: '262144' },
    });
    try {
      const socket = new WebSocket(graph.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      await new Promise((resolve) => socket.on('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      await new Promise((resolve) => socket.once('message', resolve));
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: MESSAGE_QUERY, variables: { room: 'slow' } },
        }),
      );
      await eventually(() => owner.activeSubscriptions === 1);
      // Stop reading: the kernel buffers fill, then the router's queue for this client.
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const text = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 400 && owner.activeSubscriptions > 0; i++) {
        await owner.publish({ id: `m${i}`, room: 'slow', text, sender: { id: 'u1' } });
      }
      await eventually(() => owner.activeSubscriptions === 0, 15_000);
      const metrics = await (await fetch(await graph.router.listenMetrics(0))).text();
      expect(metrics).toMatch(
        /subscription_slow_clients_dropped_total\{[^}]*transport="ws"[^}]*\} 1/,
      );
      // Reading again, the client finds its socket closed by the router.
      (socket as unknown as { _socket: { resume(): void } })._socket.resume();
      expect([1013, 1006]).toContain(await closed);
    } finally {
      await graph.stop();
    }
  }, 30_000);
});

describe('subscriptions when the subgraph does not come back', () => {
  it('end with an error event and a completion, never a hang', async () => {
    const k = await testKeyMaterial();
    const owner = chatSubgraph(k, REDIS_URL, uniqueName('subs'));
    const graph = await startSupergraph({
      subgraphs: [owner.server, usersSubgraph(k), mediaSubgraph(k)],
      keys: k,
      routerEnv: {
        SUBSCRIPTION_RETRY_BASE_MS: '20',
        SUBSCRIPTION_RETRY_ATTEMPTS: '2',
        SUBSCRIPTION_RETRY_MAX_MS: '50',
      },
    });
    try {
      const c = createClient({
        url: graph.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
      });
      const sub = subscribe(c, MESSAGE_QUERY, { room: 'gone' });
      await eventually(() => owner.activeSubscriptions === 1);
      await graph.stopSubgraph('chat');
      await eventually(() => sub.completed, 10_000);
      expect(sub.events.at(-1).errors[0].extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        serviceName: 'chat',
      });
      expect(sub.error).toBeUndefined();
      await c.dispose();
    } finally {
      await graph.stop();
    }
  });

  it('complete every subscription when the router shuts down', async () => {
    const k = await testKeyMaterial();
    const owner = chatSubgraph(k, REDIS_URL, uniqueName('subs'));
    const graph = await startSupergraph({
      subgraphs: [owner.server, usersSubgraph(k), mediaSubgraph(k)],
      keys: k,
    });
    const c = createClient({
      url: graph.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    const subs = [
      subscribe(c, MESSAGE_QUERY, { room: 'a' }),
      subscribe(c, MESSAGE_QUERY, { room: 'b' }),
    ];
    await eventually(() => owner.activeSubscriptions === 2);
    await graph.router.close();
    await eventually(() => subs.every((s) => s.completed));
    expect(subs.map((s) => s.error)).toEqual([undefined, undefined]);
    await c.dispose();
    await graph.stop();
  });
});

describe('subscriptions across renewals of the upstream signature', () => {
  it('move each upstream to a freshly signed socket before the subgraph closes the old one, losing and repeating nothing', async () => {
    const k = await testKeyMaterial();
    const owner = chatSubgraph(k, REDIS_URL, uniqueName('subs'));
    // Signatures of 10 s: the router renews after 5 s, the subgraph closes at 10 s.
    const graph = await startSupergraph({
      subgraphs: [owner.server, usersSubgraph(k), mediaSubgraph(k)],
      keys: k,
      routerEnv: { SUBGRAPH_SOCKET_SIGNATURE_SECONDS: '10', SUBSCRIPTION_RETRY_BASE_MS: '1000' },
    });
    const metrics = await graph.router.listenMetrics(0);
    const count = async (name: string) => {
      const line = (await (await fetch(metrics)).text())
        .split('\n')
        .find((l) => l.startsWith(`${name}{`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    const c = createClient({
      url: graph.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      const sub = subscribe(c, MESSAGE_QUERY, { room: 'renewed' });
      await eventually(() => owner.activeIn('renewed') === 1);
      // An event every 50 ms for 13 s: through two renewals (at ~5 s and ~10 s).
      const sent: string[] = [];
      for (let i = 0; i < 260; i++) {
        const text = `event ${i}`;
        sent.push(text);
        await owner.publish({ id: `r-${i}`, room: 'renewed', text, sender: { id: 'u1' } });
        await new Promise((r) => setTimeout(r, 50));
      }
      await eventually(() => sub.events.length >= sent.length, 5_000).catch((error) => {
        const texts = sub.events.map((e) => e.data?.messageAdded.text ?? JSON.stringify(e));
        throw new Error(
          `${texts.length} events: ${sent.filter((t) => !texts.includes(t)).join()} missing; last ${texts.slice(-3).join()}`,
          { cause: error },
        );
      });
      // Every event once, in order; none of them an error.
      expect(sub.events.map((e) => e.data?.messageAdded.text)).toEqual(sent);
      expect(await count('subscription_upstream_renewals_total')).toBeGreaterThanOrEqual(2);
      // The renewals were moves, not drops the client could have noticed.
      expect(await count('subscription_upstream_reconnects_total')).toBe(0);
      expect(sub.completed).toBe(false);
    } finally {
      await c.dispose();
      await graph.stop();
    }
  }, 40_000);
});
