import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { ErrorCode, UserError } from '@arcadia/errors';
import { isRole, type Caller } from './caller.js';

/** Header in which the router passes the verified caller to subgraphs. */
export const CALLER_HEADER = 'x-arcadia-caller';

// An HTTP signature is short-lived and bound to one request: a captured
// header replays only that request, to that subgraph, within a minute.
const REQUEST_TTL_SECONDS = 60;
// A graphql-ws connection signature lives longer: the subgraph closes the
// socket when it expires, so its lifetime sets how often the router renews
// every upstream socket.
const CONNECTION_TTL_SECONDS = 300;
const ISSUER = 'arcadia-router';
// `rh` of a connection signature: never the digest of an HTTP request.
const CONNECTION = 'graphql-ws';
/** The `method` of a binding to one operation on a graphql-ws socket. */
export const SOCKET_OPERATION = 'WS';

/** The GraphQL request an HTTP signature is bound to, as sent in the body. */
export interface SignedRequest {
  readonly query?: unknown;
  readonly operationName?: unknown;
  readonly variables?: unknown;
  /**
   * `JSON.stringify(variables)` when the sender has it already (the text it
   * sends), so the digest does not serialise them a second time.
   */
  readonly variablesJson?: string;
}

/**
 * Where a caller header may be used: one subgraph (`audience`, its name in
 * the supergraph) and either one HTTP request (its method and GraphQL body),
 * one operation on a graphql-ws socket (method `WS`: the router multiplexes
 * many callers' subscriptions over one socket, each `subscribe` carrying its
 * caller in `extensions`), or the opening of a graphql-ws connection.
 */
export type CallerBinding =
  | { readonly audience: string; readonly method?: string; readonly request: SignedRequest }
  | { readonly audience: string; readonly connection: true };

/**
 * Digest binding a signature to one request. It is taken over the parsed
 * GraphQL request rather than the body bytes: the router's gateway
 * serialises the body after the header is signed, and `JSON.stringify` of a
 * JSON-parsed value gives the same text the sender's `JSON.stringify` gave.
 */
export function requestDigest(method: string, request: SignedRequest): string {
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return createHash('sha256')
    .update(method.toUpperCase())
    .update('\0')
    .update(text(request.operationName))
    .update('\0')
    .update(text(request.query))
    .update('\0')
    .update(request.variablesJson ?? JSON.stringify(request.variables ?? {}))
    .digest('base64url');
}

const bindingDigest = (binding: CallerBinding) =>
  'connection' in binding ? CONNECTION : requestDigest(binding.method ?? 'POST', binding.request);

function secretKey(secret: string) {
  return {
    kid: createHash('sha256').update(secret).digest('base64url').slice(0, 12),
    // Imported once: given raw bytes, jose would import the key again on every call.
    key: crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ),
    secret,
  };
}

// The header is `<caller JWT>~<binding MAC>`. The JWT (jose, HS256) says who
// calls, for which subgraph, until when; it is the same for every request a
// caller makes to a subgraph for a while, so the router signs it once and
// reuses it, and a subgraph verifies it once and caches the result. The MAC
// (HMAC-SHA256 with the same secret, over the JWT and the binding's digest)
// ties it to one request: two synchronous hashes per request instead of a
// WebCrypto JWT signature and verification, which cost more than the rest
// of the router's per-fetch work together.
const SEPARATOR = '~';

const mac = (secret: string, token: string, digest: string) =>
  createHmac('sha256', secret).update(token).update('\n').update(digest).digest('base64url');

// What the JWT of a header may be used for: requests (short-lived, reused),
// or sockets and their operations (signed afresh each time, since a socket
// lives as long as the signature it opened with).
type Use = 'request' | 'socket';
const useOf = (binding: CallerBinding): Use =>
  'connection' in binding || binding.method === SOCKET_OPERATION ? 'socket' : 'request';

/** Signs a caller header for one subgraph request or connection. */
export type CallerSigner = (caller: Caller, binding: CallerBinding) => Promise<string>;

/**
 * Signs the caller for subgraph requests with the first internal secret;
 * connection signatures live `connectionTtlSeconds` (default 300).
 */
export function createCallerSigner(
  secrets: readonly string[],
  options: { connectionTtlSeconds?: number } = {},
): CallerSigner {
  const connectionTtl = options.connectionTtlSeconds ?? CONNECTION_TTL_SECONDS;
  if (!secrets[0]) throw new Error('at least one internal secret is required');
  const { kid, key, secret } = secretKey(secrets[0]);
  const sign = async (caller: Caller, audience: string, use: Use) =>
    new SignJWT({
      roles: [...caller.roles],
      scopes: [...caller.scopes],
      use,
      ...(caller.clientId ? { cid: caller.clientId } : {}),
      ...(caller.sessionId ? { sid: caller.sessionId } : {}),
      ...(caller.name ? { name: caller.name } : {}),
      ...(caller.clientAddress ? { ip: caller.clientAddress } : {}),
    })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setSubject(caller.userId ?? '')
      .setIssuedAt()
      .setExpirationTime(`${use === 'socket' ? connectionTtl : REQUEST_TTL_SECONDS}s`)
      .sign(await key);
  // A request JWT is reused for half its life: every request signed with it
  // still has at least 30 s.
  const reused = new LRUCache<string, Promise<string>>({
    max: 10_000,
    ttl: (REQUEST_TTL_SECONDS * 1000) / 2,
  });
  return async (caller, binding) => {
    const use = useOf(binding);
    let token: Promise<string>;
    if (use === 'socket') {
      token = sign(caller, binding.audience, use);
    } else {
      const cacheKey = `${binding.audience}\0${JSON.stringify(caller)}`;
      token = reused.get(cacheKey) ?? sign(caller, binding.audience, use);
      reused.set(cacheKey, token, { noUpdateTTL: true });
    }
    const jwt = await token;
    return `${jwt}${SEPARATOR}${mac(secret, jwt, bindingDigest(binding))}`;
  };
}

/** The caller a verified header stands for, and when its signature expires. */
export type VerifiedCaller = Caller & { readonly signatureExpiresAt: Date };

/** Verifies a caller header for the binding the subgraph sees. */
export type CallerVerifier = (
  header: string | undefined | null,
  binding: CallerBinding,
) => Promise<VerifiedCaller>;

const refused = (reason: 'UNSIGNED' | 'BAD_SIGNATURE', message: string) =>
  new UserError(ErrorCode.UNAUTHENTICATED, message, { reason }, { httpStatus: 401 });

/** A verified caller JWT: what it says, for whom and what, and until when. */
interface VerifiedToken {
  readonly caller: Caller;
  readonly audience: unknown;
  readonly use: unknown;
  readonly expiresAt: number;
}

/**
 * Verifies the router's signed caller header: signed with any secret of the
 * list (so the router can move to a new one without downtime), unexpired,
 * for this subgraph, and for this request or connection.
 */
export function createCallerVerifier(secrets: readonly string[]): CallerVerifier {
  const keys = new Map(
    secrets.map((s) => {
      const { kid, key, secret } = secretKey(s);
      return [kid, { key, secret }] as const;
    }),
  );
  // JWTs verified already (the router reuses each for up to 30 s).
  const verified = new LRUCache<string, VerifiedToken>({ max: 10_000 });

  async function verifyToken(jwt: string, kid: string): Promise<VerifiedToken> {
    const known = verified.get(jwt);
    if (known) return known;
    const { payload } = await jwtVerify(jwt, await keys.get(kid)!.key, {
      issuer: ISSUER,
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'aud'],
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter(isRole) : [];
    const scopes = Array.isArray(payload.scopes)
      ? payload.scopes.filter((s): s is string => typeof s === 'string')
      : [];
    const token: VerifiedToken = {
      caller: {
        userId: payload.sub || null,
        roles,
        scopes,
        ...(typeof payload.cid === 'string' ? { clientId: payload.cid } : {}),
        ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}),
        ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
        ...(typeof payload.ip === 'string' ? { clientAddress: payload.ip } : {}),
      },
      audience: payload.aud,
      use: payload.use,
      expiresAt: payload.exp! * 1000,
    };
    verified.set(jwt, token, { ttl: Math.max(1, token.expiresAt - Date.now()) });
    return token;
  }

  return async (header, binding) => {
    if (!header) throw refused('UNSIGNED', 'Requests must come through the router.');
    try {
      const at = header.lastIndexOf(SEPARATOR);
      const jwt = header.slice(0, at);
      const kid = at > 0 ? decodeProtectedHeader(jwt).kid : undefined;
      const secret = kid ? keys.get(kid)?.secret : undefined;
      if (!kid || !secret) throw new Error('unknown key');
      // The MAC first: cheap, and nothing is looked at for a forged header.
      const expected = Buffer.from(mac(secret, jwt, bindingDigest(binding)));
      const given = Buffer.from(header.slice(at + 1));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new Error('signed for another request');
      }
      const token = await verifyToken(jwt, kid);
      if (token.expiresAt <= Date.now()) throw new Error('expired');
      if (token.audience !== binding.audience) throw new Error('for another subgraph');
      if (token.use !== useOf(binding)) throw new Error('for another use');
      return { ...token.caller, signatureExpiresAt: new Date(token.expiresAt) };
    } catch {
      throw refused('BAD_SIGNATURE', 'The request signature is invalid.');
    }
  };
}
