import { ANONYMOUS, bearerToken, type Caller, type createTokenVerifier } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import { LRUCache } from 'lru-cache';
import { sessionRevoked, type SessionGuard } from './sessions.js';

/** How many verified tokens are remembered, and for how long at most. */
export interface VerifiedTokenCache {
  readonly max: number;
  readonly ttlMs: number;
}

/** Who is calling, as one bearer token says. */
export interface Authenticated {
  caller: Caller;
  /** When the token stops being valid; null for anonymous callers. */
  expiresAt: Date | null;
}

/**
 * Turns an `Authorization` value into the caller: anonymous without one,
 * the token's subject with a valid bearer token of a session that was not
 * revoked. Anything else throws UNAUTHENTICATED (HTTP 401) with a `reason`
 * (`TOKEN_EXPIRED`, `TOKEN_INVALID`, `SESSION_REVOKED`).
 */
export type Authenticate = (authorization: unknown) => Promise<Authenticated>;

/** `WWW-Authenticate` of a response that refused the caller's token. */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * The router's one authentication, for every transport: the HTTP
 * `Authorization` header, the SSE request's, and the graphql-ws
 * `connection_init` payload (see {@link authorizationFromConnectionParams}).
 */
export function createAuthenticator(
  verifier: ReturnType<typeof createTokenVerifier>,
  sessions: Pick<SessionGuard, 'isRevoked'>,
  cache: VerifiedTokenCache = { max: 10_000, ttlMs: 60_000 },
): Authenticate {
  // A token's signature check (Ed25519) is most of what authentication
  // costs, and a client sends the same token with every request until it
  // refreshes it. A token that verified is remembered by its exact text
  // (signature included) for at most `ttlMs`, never past its expiry, so a
  // key withdrawn from a remote JWKS stops being honoured within `ttlMs`.
  // Refusals are not remembered: garbage cannot fill the cache. The
  // session check below still runs on every request.
  const verified = new LRUCache<string, { caller: Caller; expiresAt: Date }>({
    max: cache.max,
    ttl: cache.ttlMs,
  });
  const verify = async (token: string) => {
    const known = verified.get(token);
    if (known) {
      if (Date.now() < known.expiresAt.getTime()) return known;
      verified.delete(token);
      throw tokenExpired();
    }
    const { expiresAt, ...caller } = await verifier.verify(token);
    const result = { caller, expiresAt };
    verified.set(token, result);
    return result;
  };
  return async (authorization) => {
    // Anything but a string (a number, an object in connection params) is
    // not a bearer token; bearerToken refuses it like a malformed header.
    const header =
      authorization == null || typeof authorization === 'string'
        ? authorization
        : JSON.stringify(authorization);
    const token = bearerToken(header);
    if (token === null) return { caller: ANONYMOUS, expiresAt: null };
    const { caller, expiresAt } = await verify(token);
    // A signed-out session's tokens verify until they expire; accounts' word is final.
    if (caller.sessionId && (await sessions.isRevoked(caller.sessionId))) throw sessionRevoked();
    return { caller, expiresAt };
  };
}

/** What the token verifier says of an expired token, for one it verified before. */
function tokenExpired(): UserError {
  return new UserError(
    ErrorCode.UNAUTHENTICATED,
    'The access token has expired.',
    { reason: 'TOKEN_EXPIRED' },
    { httpStatus: 401 },
  );
}

/**
 * The `Authorization` value of a graphql-ws `connection_init` payload:
 * `authorization` or `Authorization`, at the top level or, as Apollo
 * Sandbox may send it, under `headers`.
 */
export function authorizationFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
): unknown {
  const top = params ?? {};
  const nested =
    top.headers && typeof top.headers === 'object' ? (top.headers as Record<string, unknown>) : {};
  return top.authorization ?? top.Authorization ?? nested.authorization ?? nested.Authorization;
}
