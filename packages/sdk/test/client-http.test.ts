/**
 * The client's HTTP flows against a double of the router's HTTP contract
 * (see router-double.ts): retries, refresh on an expired token, sign-out
 * on a revoked session, APQ, partner client credentials.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ArcadiaError,
  ArcadiaNetworkError,
  createArcadiaClient,
  isArcadiaError,
  MeDocument,
  memorySessionStorage,
  SendMessageDocument,
  SignOutDocument,
  type ArcadiaClient,
} from '../src/index.js';
import { startRouterDouble } from './router-double.js';

type Double = Awaited<ReturnType<typeof startRouterDouble>>;

let router: Double;
let client: ArcadiaClient;
const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 2000 };

beforeEach(async () => {
  router = await startRouterDouble();
});
afterEach(async () => {
  await client?.close();
  await router.close();
});

const signedIn = async (options: Partial<Parameters<typeof createArcadiaClient>[0]> = {}) => {
  client = createArcadiaClient({ url: router.url, retry: fast, ...options });
  await client.session.signIn('nova@example.com', 'correct horse battery');
  return client;
};

describe('requests', () => {
  it('resolve with data, sending the access token of the session', async () => {
    await signedIn();
    const { me } = await client.request(MeDocument);
    expect(me?.handle).toBe('nova');
    const last = router.received.at(-1)!;
    expect(last.authorization).toMatch(/^Bearer access-/);
    expect(last.body.operationName).toBe('Me');
  });

  it('send the extra headers on every request', async () => {
    client = createArcadiaClient({ url: router.url, headers: { 'x-client-name': 'studio' } });
    await client.request(MeDocument);
    expect(router.received.at(-1)!.headers['x-client-name']).toBe('studio');
  });

  it('retry a query after a 503 and resolve', async () => {
    await signedIn();
    router.failNext({ status: 503, body: 'Service Unavailable' }, 'Me');
    const { me } = await client.request(MeDocument);
    expect(me?.id).toBe('u1');
    expect(router.calls('Me')).toBe(2);
  });

  it('give up after the configured attempts with ArcadiaNetworkError and the status', async () => {
    await signedIn();
    for (let i = 0; i < 4; i++) router.failNext({ status: 502, body: 'Bad Gateway' }, 'Me');
    const error = await client.request(MeDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArcadiaNetworkError);
    expect((error as ArcadiaNetworkError).status).toBe(502);
    expect(router.calls('Me')).toBe(4);
  });

  it('never retry a mutation without an idempotency key', async () => {
    await signedIn();
    router.failNext({ status: 503, body: 'Service Unavailable' }, 'SignOut');
    await expect(client.request(SignOutDocument)).rejects.toBeInstanceOf(ArcadiaNetworkError);
    expect(router.calls('SignOut')).toBe(1);
  });

  it('retry sendMessage, which carries its clientMessageId', async () => {
    await signedIn();
    router.failNext({ status: 504, body: 'Gateway Timeout' }, 'SendMessage');
    const variables = { conversationId: 'c1', text: 'gg', clientMessageId: 'k1' };
    const { sendMessage } = await client.request(SendMessageDocument, variables);
    expect(sendMessage.clientMessageId).toBe('k1');
    expect(router.calls('SendMessage')).toBe(2);
  });

  it('wait out a short RATE_LIMITED, and throw a long one typed', async () => {
    await signedIn();
    router.failNext(
      {
        status: 200,
        body: {
          errors: [
            { message: 'Slow down.', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 } },
          ],
        },
      },
      'Me',
    );
    const started = Date.now();
    await client.request(MeDocument);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    router.failNext(
      {
        status: 200,
        body: {
          errors: [
            { message: 'Slow down.', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 30 } },
          ],
        },
      },
      'Me',
    );
    const error = await client.request(MeDocument).catch((e: unknown) => e);
    expect(isArcadiaError(error, 'RATE_LIMITED')).toBe(true);
    if (isArcadiaError(error, 'RATE_LIMITED')) expect(error.first.retryAfterSeconds).toBe(30);
  });

  it('throw ArcadiaError with the partial data next to the errors', async () => {
    await signedIn();
    router.failNext(
      {
        status: 200,
        body: {
          data: { me: null },
          errors: [
            {
              message: 'Down.',
              path: ['me'],
              extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: 'accounts' },
            },
          ],
        },
      },
      'Me',
    );
    const error = await client.request(MeDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArcadiaError);
    expect((error as ArcadiaError).data).toEqual({ me: null });
    expect((error as ArcadiaError).first).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      serviceName: 'accounts',
    });
    expect(router.calls('Me')).toBe(1);
  });

  it('fail with ArcadiaNetworkError when the router cannot be reached', async () => {
    const url = router.url;
    await router.close();
    client = createArcadiaClient({ url, retry: { attempts: 1, baseDelayMs: 1 } });
    await expect(client.request(MeDocument)).rejects.toBeInstanceOf(ArcadiaNetworkError);
    router = await startRouterDouble();
  });
});

describe('sessions', () => {
  it('refresh once on TOKEN_EXPIRED, shared by concurrent requests, and replay each', async () => {
    await signedIn();
    const sessions: unknown[] = [];
    client.on('session', (s) => sessions.push(s));
    router.expireAccessTokens();
    const results = await Promise.all([1, 2, 3].map(() => client.request(MeDocument)));
    expect(results.map((r) => r.me?.id)).toEqual(['u1', 'u1', 'u1']);
    expect(router.calls('RefreshSession')).toBe(1);
    expect(sessions).toHaveLength(1);
    expect((await client.session.current())?.refreshToken).toBe('refresh-2');
  });

  it('refresh before sending when the stored token is about to end', async () => {
    const storage = memorySessionStorage();
    client = createArcadiaClient({ url: router.url, auth: { kind: 'session', storage } });
    const session = await client.session.signIn('nova@example.com', 'correct horse battery');
    await storage.save({ ...session, expiresAt: new Date(Date.now() + 1000).toISOString() });
    await client.request(MeDocument);
    expect(router.calls('RefreshSession')).toBe(1);
    expect(router.received.at(-1)!.authorization).toBe('Bearer access-2');
  });

  it('forget a revoked session and emit signedOut SESSION_REVOKED', async () => {
    await signedIn();
    const signedOut: unknown[] = [];
    client.on('signedOut', (e) => signedOut.push(e));
    router.revokeAll();
    const error = await client.request(MeDocument).catch((e: unknown) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
    if (isArcadiaError(error, 'UNAUTHENTICATED'))
      expect(error.first.reason).toBe('SESSION_REVOKED');
    expect(signedOut).toEqual([{ reason: 'SESSION_REVOKED' }]);
    expect(await client.session.current()).toBeNull();
    expect(router.calls('RefreshSession')).toBe(0);
  });

  it('sign out with REFRESH_FAILED when the refresh is refused', async () => {
    await signedIn();
    const signedOut: unknown[] = [];
    client.on('signedOut', (e) => signedOut.push(e));
    router.failNext(
      {
        status: 200,
        body: {
          errors: [
            {
              message: 'Reused.',
              extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID' },
            },
          ],
        },
      },
      'RefreshSession',
    );
    router.expireAccessTokens();
    await expect(client.request(MeDocument)).rejects.toBeInstanceOf(ArcadiaError);
    expect(signedOut).toEqual([{ reason: 'REFRESH_FAILED' }]);
    expect(await client.session.current()).toBeNull();
  });

  it('share one refresh between concurrent refresh() calls', async () => {
    await signedIn();
    const [a, b] = await Promise.all([client.session.refresh(), client.session.refresh()]);
    expect(a).toBe(b);
    expect(router.calls('RefreshSession')).toBe(1);
  });

  it('sign out on the server and forget the session, emitting SIGNED_OUT', async () => {
    await signedIn();
    const events: unknown[] = [];
    client.on('signedOut', (e) => events.push(e));
    client.on('session', (s) => events.push(s));
    await client.session.signOut();
    expect(router.received.at(-1)!.body.operationName).toBe('SignOut');
    expect(router.received.at(-1)!.authorization).toMatch(/^Bearer /);
    expect(events).toEqual([null, { reason: 'SIGNED_OUT' }]);
    expect(await client.session.current()).toBeNull();
    // Anonymous from now on.
    await client.request(MeDocument);
    expect(router.received.at(-1)!.authorization).toBeUndefined();
  });

  it('surface a wrong password as UNAUTHENTICATED without refreshing anything', async () => {
    client = createArcadiaClient({ url: router.url });
    const error = await client.session.signIn('nova@example.com', 'wrong').catch((e: unknown) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
    expect(router.calls('RefreshSession')).toBe(0);
  });
});

describe('persisted queries', () => {
  it('send the hash alone, the query after PERSISTED_QUERY_NOT_FOUND, then the hash alone', async () => {
    client = createArcadiaClient({ url: router.url });
    await client.request(MeDocument);
    await client.request(MeDocument);
    const bodies = router.received.map((r) => r.body);
    expect(bodies).toHaveLength(3);
    const hash = bodies[0]!.extensions!.persistedQuery!.sha256Hash;
    expect(bodies[0]).toEqual({
      operationName: 'Me',
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    });
    expect(bodies[1]!.query).toContain('query Me');
    expect(bodies[1]!.extensions?.persistedQuery?.sha256Hash).toBe(hash);
    expect(bodies[2]!.query).toBeUndefined();
    expect(router.persisted.get(hash)).toBe(bodies[1]!.query);
  });

  it('send a query the router will not store without the extension from then on', async () => {
    router.setMaxQueryBytes(10);
    client = createArcadiaClient({ url: router.url });
    await client.request(MeDocument);
    await client.request(MeDocument);
    const bodies = router.received.map((r) => r.body);
    expect(bodies.map((b) => [b.query !== undefined, b.extensions !== undefined])).toEqual([
      [false, true],
      [true, true],
      [true, false],
      [true, false],
    ]);
  });

  it('are off with persistedQueries: false', async () => {
    client = createArcadiaClient({ url: router.url, persistedQueries: false });
    await client.request(MeDocument);
    expect(router.received).toHaveLength(1);
    expect(router.received[0]!.body.extensions).toBeUndefined();
  });
});

describe('client credentials', () => {
  it('issue a token on first use and share it', async () => {
    client = createArcadiaClient({
      url: router.url,
      auth: { kind: 'clientCredentials', clientId: 'c1', clientSecret: 'secret' },
    });
    await Promise.all([client.request(MeDocument), client.request(MeDocument)]);
    expect(router.calls('IssueClientToken')).toBe(1);
    expect(router.received.at(-1)!.authorization).toBe('Bearer access-1');
  });

  it('refresh refreshBeforeSeconds before expiry, and issue again when the refresh is refused', async () => {
    router.options.issueExpiresInMs = 30_000;
    router.options.refreshExpiresInMs = 30_000;
    client = createArcadiaClient({
      url: router.url,
      auth: {
        kind: 'clientCredentials',
        clientId: 'c1',
        clientSecret: 'secret',
        refreshBeforeSeconds: 60,
      },
    });
    await client.request(MeDocument); // issue; the token is already within 60 s of its end
    await client.request(MeDocument); // so: refresh
    expect(router.calls('IssueClientToken')).toBe(1);
    expect(router.calls('RefreshSession')).toBe(1);
    router.failNext(
      {
        status: 200,
        body: {
          errors: [
            {
              message: 'Revoked.',
              extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID' },
            },
          ],
        },
      },
      'RefreshSession',
    );
    await client.request(MeDocument);
    expect(router.calls('IssueClientToken')).toBe(2);
  });

  it('issue again after SESSION_REVOKED and replay', async () => {
    client = createArcadiaClient({
      url: router.url,
      auth: { kind: 'clientCredentials', clientId: 'c1', clientSecret: 'secret' },
    });
    await client.request(MeDocument);
    router.revokeAll();
    const { me } = await client.request(MeDocument);
    expect(me?.id).toBe('u1');
    expect(router.calls('IssueClientToken')).toBe(2);
  });
});
