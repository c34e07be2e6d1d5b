/**
 * A session's access ends everywhere when the session does: sign-out and
 * refresh-token reuse end HTTP, graphql-ws and SSE access within a second,
 * and no stream outlives its access token. Through the router, with
 * accounts ending sessions and chat's `chatEvents` as the long-lived stream.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph, TEST_PASSWORD } from '@arcadia/accounts/testing';
import { createTokenSigner } from '@arcadia/auth';
import {
  eventually,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import { chatSubgraph, type ChatUnderTest } from '../src/testing.js';

let h: SubgraphHarness<ChatUnderTest>;
beforeAll(async () => {
  h = await startSubgraphHarness({
    subject: chatSubgraph(),
    // Any second use of a refresh token is a reuse.
    peers: [accountsSubgraph({ REFRESH_REUSE_INTERVAL_SECONDS: '0' })],
  });
}, 60_000);
afterAll(() => h?.stop(), 30_000);

const EVENTS = 'subscription { chatEvents { __typename } }';
const ME = '{ me { id } }';
const SESSION = 'accessToken refreshToken';

/** How soon after the session ends each kind of access must be gone. */
const WITHIN_MS = 1_000;

/** `user`'s chatEvents over graphql-ws, recording how the router closes the socket. */
function openSocket(token: string) {
  const closes: { code: number; reason: string }[] = [];
  const client = createClient({
    url: h.wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closes.push({ code, reason });
      },
    },
    onNonLazyError: () => undefined,
  });
  client.subscribe({ query: EVENTS }, { next: () => {}, error: () => {}, complete: () => {} });
  return { client, closes };
}

/**
 * chatEvents over Server-Sent Events (graphql-sse's distinct connections
 * mode): the `next` payloads as they arrive, and whether the stream ended.
 */
function openStream(token: string) {
  const events: { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] }[] = [];
  const stream = { events, ended: false, status: 0 };
  const abort = new AbortController();
  void (async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: EVENTS }),
      signal: abort.signal,
    });
    stream.status = res.status;
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^data: ?(.*)$/m.exec(message)?.[1];
        if (/^event: next$/m.test(message) && data) events.push(JSON.parse(data));
      }
    }
    stream.ended = true;
  })().catch(() => {
    stream.ended = true;
  });
  return Object.assign(stream, { close: () => abort.abort() });
}

let metricsUrl: Promise<string> | undefined;
/** Client subscriptions the router holds open, by transport (`ws`, `sse`). */
async function openAtRouter(): Promise<Record<string, number>> {
  metricsUrl ??= h.supergraph.router.listenMetrics(0);
  const text = await (await fetch(await metricsUrl)).text();
  const counts: Record<string, number> = {};
  for (const [, transport, value] of text.matchAll(
    /^subscription_client_operations\{transport="(\w+)"[^}]*\} (\S+)$/gm,
  )) {
    counts[transport!] = Number(value);
  }
  return counts;
}

/**
 * Resolves once the router holds `expected` more subscriptions per
 * transport than `before`, and the subgraph listens on `user`'s channel.
 */
async function streamsOpen(
  user: TestUser,
  before: Record<string, number>,
  expected: Record<string, number>,
) {
  await eventually(
    async () => {
      const now = await openAtRouter();
      return (
        Object.entries(expected).every(([t, n]) => (now[t] ?? 0) - (before[t] ?? 0) >= n) &&
        (await h.subscribers(h.subject.userChannel(user.id))) > 0
      );
    },
    { what: `${JSON.stringify(expected)} chatEvents streams of ${user.handle}` },
  );
}

const reasonOf = (response: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
  response.errors?.[0]?.extensions?.reason;

async function signIn(user: TestUser) {
  const r = await h.request<{ signIn: { accessToken: string; refreshToken: string } }>(
    `mutation ($e: String!, $p: String!) { signIn(email: $e, password: $p) { ${SESSION} } }`,
    { variables: { e: `${user.handle}@example.com`, p: TEST_PASSWORD } },
  );
  expect(r.errors).toBeUndefined();
  return r.data!.signIn;
}

describe('the end of a session', () => {
  it('ends its HTTP, graphql-ws and SSE access within a second of signOut, and no other session', async () => {
    const [alice, bob] = await Promise.all([h.signUp(), h.signUp()]);
    const before = await openAtRouter();
    const socket = openSocket(alice.token);
    const stream = openStream(alice.token);
    const bobSocket = openSocket(bob.token);
    await streamsOpen(alice, before, { ws: 2, sse: 1 });
    await streamsOpen(bob, before, { ws: 2 });
    // The positive control: the token works until the sign-out.
    expect((await h.request(ME, { token: alice.token })).data).toEqual({ me: { id: alice.id } });

    const signedOut = await h.request(`mutation { signOut }`, { token: alice.token });
    expect(signedOut.data).toEqual({ signOut: true });
    const opts = { timeoutMs: WITHIN_MS, intervalMs: 20 };
    await Promise.all([
      eventually(() => socket.closes.length > 0, { ...opts, what: 'the socket to close' }),
      eventually(() => stream.ended, { ...opts, what: 'the SSE stream to end' }),
      eventually(async () => reasonOf(await h.request(ME, { token: alice.token })), {
        ...opts,
        what: 'HTTP to refuse the token',
      }),
    ]);
    expect(socket.closes).toEqual([{ code: 4401, reason: 'Session revoked' }]);
    expect(stream.events.at(-1)?.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'SESSION_REVOKED',
    });
    expect(reasonOf(await h.request(ME, { token: alice.token }))).toBe('SESSION_REVOKED');
    // A new socket with the old token is refused at connection time.
    const again = openSocket(alice.token);
    await eventually(() => again.closes.length > 0, { what: 'the new socket to be refused' });
    expect(again.closes[0]).toMatchObject({ code: 4401 });

    // Bob's session is untouched: his socket stays open and his token works.
    expect(bobSocket.closes).toEqual([]);
    expect((await h.request(ME, { token: bob.token })).data).toEqual({ me: { id: bob.id } });
    await Promise.all([
      socket.client.dispose(),
      again.client.dispose(),
      bobSocket.client.dispose(),
    ]);
    stream.close();
  });

  it('ends the access of a session whose refresh token was used twice', async () => {
    const alice = await h.signUp();
    const first = await signIn(alice);
    const rotated = await h.request<{ refreshSession: { accessToken: string } }>(
      `mutation ($t: String!) { refreshSession(refreshToken: $t) { ${SESSION} } }`,
      { variables: { t: first.refreshToken } },
    );
    const token = rotated.data!.refreshSession.accessToken;
    const before = await openAtRouter();
    const socket = openSocket(token);
    await streamsOpen(alice, before, { ws: 1 });
    expect((await h.request(ME, { token })).data).toEqual({ me: { id: alice.id } });

    // The spent token again, as a thief holding a copy would present it.
    const reused = await h.request(
      `mutation ($t: String!) { refreshSession(refreshToken: $t) { ${SESSION} } }`,
      { variables: { t: first.refreshToken } },
    );
    expect(reused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await eventually(() => socket.closes.length > 0, {
      timeoutMs: WITHIN_MS,
      what: 'the socket of the revoked session to close',
    });
    expect(socket.closes).toEqual([{ code: 4401, reason: 'Session revoked' }]);
    expect(reasonOf(await h.request(ME, { token }))).toBe('SESSION_REVOKED');
    // The sign-up session of the same user is another session, and lives on.
    expect((await h.request(ME, { token: alice.token })).data).toEqual({ me: { id: alice.id } });
    await socket.client.dispose();
  });
});

describe('a Server-Sent Events stream', () => {
  it('ends with TOKEN_EXPIRED when its access token expires, as a socket closes', async () => {
    const alice = await h.signUp();
    // A token of two seconds, signed with the run's keys as accounts would sign it.
    const { token, expiresAt } = await createTokenSigner(h.keys.jwtKeys).sign(
      { userId: alice.id, roles: ['USER'], scopes: [] },
      2,
    );
    const before = await openAtRouter();
    const stream = openStream(token);
    const socket = openSocket(token);
    await streamsOpen(alice, before, { ws: 1, sse: 1 });
    expect(stream.ended).toBe(false);
    await eventually(() => stream.ended && socket.closes.length > 0, {
      timeoutMs: expiresAt.getTime() - Date.now() + WITHIN_MS,
      what: 'the stream and the socket to end at expiry',
    });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(stream.events.at(-1)?.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'TOKEN_EXPIRED',
    });
    expect(socket.closes).toEqual([{ code: 4401, reason: 'Token expired' }]);
    await socket.client.dispose();
  });
});
