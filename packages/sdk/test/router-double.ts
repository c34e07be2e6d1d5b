/**
 * A test double of the router's HTTP contract (docs/api.md), for fast
 * tests of the client's flows: JSON POSTs, Apollo APQ (hash first,
 * PERSISTED_QUERY_NOT_FOUND, registration checked against SHA-256), bearer
 * tokens refused with 401 + WWW-Authenticate + `extensions.reason`, and
 * refresh-token rotation. Operations are answered by name; a test scripts
 * failures with `failNext`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Body {
  query?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: { persistedQuery?: { version: number; sha256Hash: string } };
}

/** One request as the double received it. */
export interface Received {
  body: Body;
  authorization: string | undefined;
  headers: IncomingMessage['headers'];
  /** Answered PERSISTED_QUERY_NOT_FOUND: an APQ step, not a try of the operation. */
  apqMiss?: boolean;
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };
/** Data, or an `Answer` (status and body) to send as is. */
type Resolver = (variables: Record<string, unknown>, caller: Token | null) => unknown;

interface Token {
  sessionId: string;
  expired: boolean;
}

const user = {
  id: 'u1',
  handle: 'nova',
  displayName: 'Nova',
  roles: ['USER'],
  email: 'nova@example.com',
  avatar: null,
};

const gqlError = (code: string, message: string, extensions: Record<string, unknown> = {}) => ({
  message,
  extensions: { code, ...extensions },
});

export async function startRouterDouble() {
  const received: Received[] = [];
  const persisted = new Map<string, string>();
  const accessTokens = new Map<string, Token>();
  const refreshTokens = new Map<string, { sessionId: string; used: boolean }>();
  const revoked = new Set<string>();
  const scripted: Array<{ operationName?: string; answer: Answer }> = [];
  let serial = 0;
  let maxQueryBytes = Infinity;

  const issue = (sessionId: string, expiresInMs = 15 * 60_000) => {
    serial++;
    const accessToken = `access-${serial}`;
    const refreshToken = `refresh-${serial}`;
    accessTokens.set(accessToken, { sessionId, expired: false });
    refreshTokens.set(refreshToken, { sessionId, used: false });
    return {
      accessToken,
      refreshToken,
      expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
      user,
    };
  };

  const resolvers: Record<string, Resolver> = {
    Me: (_v, caller) =>
      caller ? { me: { ...user, createdAt: '2025-01-01T00:00:00.000Z' } } : { me: null },
    SignIn: (v) =>
      v.password === 'correct horse battery'
        ? { signIn: issue(`s${serial + 1}`) }
        : {
            status: 200,
            body: { data: null, errors: [gqlError('UNAUTHENTICATED', 'Wrong email or password.')] },
          },
    SignOut: (_v, caller) => {
      if (caller) revoked.add(caller.sessionId);
      return { signOut: true };
    },
    RefreshSession: (v) => {
      const entry = refreshTokens.get(String(v.refreshToken));
      if (!entry || entry.used || revoked.has(entry.sessionId)) {
        if (entry) revoked.add(entry.sessionId);
        return {
          status: 200,
          body: {
            data: null,
            errors: [
              gqlError('UNAUTHENTICATED', 'The refresh token is invalid.', {
                reason: 'TOKEN_INVALID',
              }),
            ],
          },
        };
      }
      entry.used = true;
      return { refreshSession: issue(entry.sessionId, options.refreshExpiresInMs) };
    },
    IssueClientToken: (v) =>
      v.clientSecret === 'secret'
        ? {
            issueClientToken: {
              ...issue(`client-${serial + 1}`, options.issueExpiresInMs),
              user: { id: 'u1', roles: ['PARTNER'] },
            },
          }
        : {
            status: 200,
            body: { data: null, errors: [gqlError('UNAUTHENTICATED', 'Bad credentials.')] },
          },
    SendMessage: (v) => ({
      sendMessage: { id: 'm1', clientMessageId: v.clientMessageId, text: v.text },
    }),
  };
  const options = { refreshExpiresInMs: 15 * 60_000, issueExpiresInMs: 15 * 60_000 };

  const json = (res: ServerResponse, answer: Answer) => {
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const body = JSON.parse(text) as Body;
    const authorization = req.headers.authorization;
    received.push({ body, authorization, headers: req.headers });
    const index = scripted.findIndex(
      (s) => s.operationName === undefined || s.operationName === body.operationName,
    );
    if (index >= 0) {
      const [script] = scripted.splice(index, 1);
      return json(res, script!.answer);
    }
    // APQ as Apollo Server runs it, with the router's checks.
    let query = body.query;
    const pq = body.extensions?.persistedQuery;
    if (pq) {
      if (query === undefined) {
        query = persisted.get(pq.sha256Hash);
        if (query === undefined) {
          received.at(-1)!.apqMiss = true;
          return json(res, {
            status: 200,
            body: { errors: [gqlError('PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound')] },
          });
        }
      } else {
        if (createHash('sha256').update(query).digest('hex') !== pq.sha256Hash) {
          return json(res, {
            status: 400,
            body: { errors: [gqlError('PERSISTED_QUERY_HASH_MISMATCH', 'Hash mismatch.')] },
          });
        }
        if (Buffer.byteLength(query) > maxQueryBytes) {
          return json(res, {
            status: 400,
            body: {
              errors: [
                gqlError('PERSISTED_QUERY_TOO_LARGE', 'Too large.', { maxBytes: maxQueryBytes }),
              ],
            },
          });
        }
        persisted.set(pq.sha256Hash, query);
      }
    }
    if (!query)
      return json(res, { status: 400, body: { errors: [gqlError('BAD_REQUEST', 'No query.')] } });
    // Authentication: a present but bad header fails the whole request with 401.
    let caller: Token | null = null;
    if (authorization) {
      const token = accessTokens.get(authorization.replace(/^Bearer /, ''));
      const refuse = (reason: string, message: string) =>
        json(res, {
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
          body: { errors: [gqlError('UNAUTHENTICATED', message, { reason })] },
        });
      if (!token) return refuse('TOKEN_INVALID', 'The access token is invalid.');
      if (token.expired) return refuse('TOKEN_EXPIRED', 'The access token has expired.');
      if (revoked.has(token.sessionId))
        return refuse('SESSION_REVOKED', 'The session has ended; sign in again.');
      caller = token;
    }
    const resolver = resolvers[body.operationName ?? ''];
    if (!resolver)
      return json(res, {
        status: 200,
        body: { errors: [gqlError('GRAPHQL_VALIDATION_FAILED', 'Unknown operation.')] },
      });
    const result = resolver(body.variables ?? {}, caller);
    if (result && typeof result === 'object' && 'status' in result && 'body' in result) {
      return json(res, result as Answer);
    }
    return json(res, { status: 200, body: { data: result } });
  };

  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => handle(req, res, text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    /** Answers by operation name; a test adds its own. */
    resolvers,
    received,
    persisted,
    options,
    /** Tries of an operation, by name (an APQ miss is not one). */
    calls: (operationName: string) =>
      received.filter((r) => r.body.operationName === operationName && !r.apqMiss).length,
    /** The next request (of `operationName`, if given) gets `answer` as is. */
    failNext(answer: Answer, operationName?: string) {
      scripted.push({ answer, ...(operationName ? { operationName } : {}) });
    },
    /** Marks every access token issued so far as expired. */
    expireAccessTokens() {
      for (const token of accessTokens.values()) token.expired = true;
    },
    /** Signs out every session (as signOut elsewhere would). */
    revokeAll() {
      for (const token of accessTokens.values()) revoked.add(token.sessionId);
    },
    setMaxQueryBytes(bytes: number) {
      maxQueryBytes = bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
