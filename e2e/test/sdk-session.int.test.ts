/**
 * Sessions through the SDK against the whole system: access tokens that run
 * out (over HTTP and on a socket), refresh-token rotation, and the end of a
 * session the client did not end itself.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatEventsDocument,
  MeDocument,
  RefreshSessionDocument,
  SendMessageDocument,
  StartConversationDocument,
  isArcadiaError,
  memorySessionStorage,
  type SessionStorage,
  type StoredSession,
} from '@arcadia/sdk';
import { eventually } from '@arcadia/testing';
import { startSystem, type ArcadiaSystem, type SystemUser } from '../src/system.js';
import { clientFactory, collect, signUpWith } from './sdk-fixtures.js';

/** Memory storage that remembers every session saved to it. */
function recordingStorage(initial: StoredSession | null = null) {
  const inner = memorySessionStorage(initial);
  const saved: (StoredSession | null)[] = [];
  const storage: SessionStorage = {
    load: () => inner.load(),
    save(session) {
      saved.push(session);
      return inner.save(session);
    },
  };
  return { storage, saved };
}

/** Resolves once `expiresAt` has passed (with a margin for second-rounded expiry). */
const expired = (expiresAt: string) =>
  eventually(() => Date.now() > Date.parse(expiresAt) + 1100, {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: `the access token to expire at ${expiresAt}`,
  });

describe('an SDK session whose access tokens live two seconds', () => {
  let system: ArcadiaSystem;
  const clients = clientFactory(() => system);
  beforeAll(async () => {
    system = await startSystem({ accountsEnv: { ACCESS_TOKEN_TTL_SECONDS: '2' } });
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  it('refreshes transparently after each expiry, keeps working, and stores every rotated refresh token', async () => {
    const { storage, saved } = recordingStorage();
    const { client, sentOf } = clients.create({ auth: { kind: 'session', storage } });
    const signedOut: unknown[] = [];
    client.on('signedOut', (event) => signedOut.push(event));
    let session = await signUpWith(client, 'refresh');
    const presented: string[] = [];
    for (let round = 0; round < 2; round++) {
      await expired(session.expiresAt);
      const { me } = await client.request(MeDocument);
      expect(me?.id).toBe(session.user.id);
      const next = (await storage.load())!;
      expect(next.refreshToken).not.toBe(session.refreshToken);
      expect(next.accessToken).not.toBe(session.accessToken);
      presented.push(session.refreshToken);
      session = next;
    }
    // Each refresh token was presented once, in order (the hash-only try of
    // persisted queries aside): no spent token was sent again.
    const refreshes = sentOf('RefreshSession')
      .filter((r) => !r.codes.includes('PERSISTED_QUERY_NOT_FOUND'))
      .map((r) => r.body.variables?.refreshToken);
    expect(refreshes).toEqual(presented);
    expect(saved.at(-1)).toEqual(session);
    expect(signedOut).toEqual([]);
  });
});

describe('an SDK session whose access tokens live twelve seconds', () => {
  let system: ArcadiaSystem;
  /** A user whose token runs out while the first test runs. */
  let stale: SystemUser;
  const clients = clientFactory(() => system);
  // Longer than the client's early-refresh margin, so a socket opens with a
  // token that then runs out while it is connected.
  const ttlSeconds = 12;
  beforeAll(async () => {
    system = await startSystem({ accountsEnv: { ACCESS_TOKEN_TTL_SECONDS: String(ttlSeconds) } });
    stale = await system.signUp({ prefix: 'replay' });
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  it(
    'is closed with 4401 Token expired, refreshes, reconnects and still delivers events',
    { timeout: 60_000 },
    async () => {
      const closes: { code: number; reason: string }[] = [];
      /** `ws` that records how each of its sockets closed. */
      class RecordingWebSocket extends WebSocket {
        constructor(...args: ConstructorParameters<typeof WebSocket>) {
          super(...args);
          this.on('close', (code, reason) => closes.push({ code, reason: String(reason) }));
        }
      }
      const alice = clients.create().client;
      const bob = clients.create({ webSocketImpl: RecordingWebSocket });
      await signUpWith(alice, 'alice');
      const bobSession = await signUpWith(bob.client, 'bob');
      let connections = 0;
      bob.client.on('connection', ({ state }) => state === 'connected' && connections++);
      const { startConversation } = await alice.request(StartConversationDocument, {
        memberIds: [bobSession.user.id],
      });
      const channel = system.chat.userChannel(bobSession.user.id);
      const events = collect(bob.client.subscribe(ChatEventsDocument));
      await eventually(() => system.harness.subscribers(channel), {
        what: 'chatEvents to go live',
      });
      expect(connections).toBe(1);

      const closed = await eventually(() => closes.find((c) => c.code === 4401), {
        timeoutMs: (ttlSeconds + 5) * 1000,
        what: () => `the router to close the socket with 4401; closes ${JSON.stringify(closes)}`,
      });
      expect(closed.reason).toBe('Token expired');
      await eventually(
        async () => connections === 2 && (await system.harness.subscribers(channel)) > 0,
        { what: () => `a second connection with chatEvents live; ${connections} connections` },
      );
      expect(bob.sentOf('RefreshSession').length).toBeGreaterThanOrEqual(1);

      const { sendMessage } = await alice.request(SendMessageDocument, {
        conversationId: startConversation.id,
        text: 'still there?',
        clientMessageId: randomUUID(),
      });
      await eventually(
        () =>
          events.events.some(
            (e) =>
              e.chatEvents.__typename === 'MessageAdded' &&
              e.chatEvents.message.id === sendMessage.id,
          ),
        { what: () => `the message after the reconnection; got ${JSON.stringify(events.events)}` },
      );
      expect(events.error).toBeUndefined();
      await events.stop();
    },
  );

  it(
    'refreshes once and replays a request the router refused for an expired token',
    { timeout: 30_000 },
    async () => {
      // Signed up in beforeAll: its token has run out during the test above.
      const user = stale;
      await eventually(
        async () =>
          (await system.harness.request('{ me { id } }', { token: user.token })).errors?.[0]
            ?.extensions?.code === 'UNAUTHENTICATED',
        {
          timeoutMs: (ttlSeconds + 5) * 1000,
          intervalMs: 200,
          what: "the user's access token to be refused",
        },
      );
      // The stored expiry is wrong (a clock ahead, say): the client learns from the refusal.
      const { storage } = recordingStorage({
        accessToken: user.token,
        refreshToken: user.refreshToken,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        user: {
          id: user.id,
          handle: user.handle,
          displayName: user.displayName,
          avatar: null,
          email: user.email,
          roles: ['USER'],
        },
      });
      const { client, sent } = clients.create({ auth: { kind: 'session', storage } });
      const { me } = await client.request(MeDocument);
      expect(me?.id).toBe(user.id);
      // Hash-only tries and their registrations aside: refused, refreshed, replayed.
      const steps = sent
        .filter((r) => !r.codes.includes('PERSISTED_QUERY_NOT_FOUND'))
        .map((r) => `${r.body.operationName} ${r.codes.join(',') || 'ok'}`);
      expect(steps).toEqual(['Me UNAUTHENTICATED', 'RefreshSession ok', 'Me ok']);
      expect((await storage.load())?.refreshToken).not.toBe(user.refreshToken);
    },
  );
});

describe('an SDK session that ends elsewhere', () => {
  let system: ArcadiaSystem;
  const clients = clientFactory(() => system);
  beforeAll(async () => {
    // Any second use of a spent refresh token revokes its session at once.
    system = await startSystem({ accountsEnv: { REFRESH_REUSE_INTERVAL_SECONDS: '0' } });
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  /** A signed-in client that has rotated its refresh token once; resolves to the spent one. */
  async function rotated(prefix: string) {
    const observed = clients.create();
    const signedOut: unknown[] = [];
    observed.client.on('signedOut', (event) => signedOut.push(event));
    const first = await signUpWith(observed.client, prefix);
    await observed.client.session.refresh();
    return { ...observed, signedOut, spent: first.refreshToken };
  }

  /** Another client presents `refreshToken` again, which revokes its session. */
  async function reuse(refreshToken: string) {
    const thief = clients.create().client;
    const error = await thief.request(RefreshSessionDocument, { refreshToken }).catch((e) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
  }

  it('emits signedOut SESSION_REVOKED and forgets the session when a request is refused after a refresh-token reuse', async () => {
    const { client, signedOut, spent } = await rotated('revoked');
    expect((await client.request(MeDocument)).me).not.toBeNull();
    await reuse(spent);
    const error = await client.request(MeDocument).catch((e) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
    expect(isArcadiaError(error, 'UNAUTHENTICATED') && error.first.reason).toBe('SESSION_REVOKED');
    expect(signedOut).toEqual([{ reason: 'SESSION_REVOKED' }]);
    expect(await client.session.current()).toBeNull();
  });

  it('ends a subscription with UNAUTHENTICATED SESSION_REVOKED and emits signedOut when the socket’s session is revoked', async () => {
    const { client, signedOut, spent } = await rotated('revoked_ws');
    const me = (await client.session.current())!.user.id;
    const events = collect(client.subscribe(ChatEventsDocument));
    await eventually(() => system.harness.subscribers(system.chat.userChannel(me)), {
      what: 'chatEvents to go live',
    });
    await reuse(spent);
    await eventually(() => events.done, { what: 'the subscription to end' });
    expect(isArcadiaError(events.error, 'UNAUTHENTICATED')).toBe(true);
    expect(isArcadiaError(events.error, 'UNAUTHENTICATED') && events.error.first.reason).toBe(
      'SESSION_REVOKED',
    );
    expect(signedOut).toEqual([{ reason: 'SESSION_REVOKED' }]);
    expect(await client.session.current()).toBeNull();
  });

  it('emits signedOut SIGNED_OUT after signOut, and the old access token no longer works', async () => {
    const { client, signedOut } = await rotated('signout');
    const { accessToken } = (await client.session.current())!;
    await client.session.signOut();
    expect(signedOut).toEqual([{ reason: 'SIGNED_OUT' }]);
    expect(await client.session.current()).toBeNull();
    const res = await system.harness.request('{ me { id } }', { token: accessToken });
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
