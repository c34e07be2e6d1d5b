import { createHash } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
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
    .update(JSON.stringify(request.variables ?? {}))
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
  };
}

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
  const { kid, key } = secretKey(secrets[0]);
  return async (caller, binding) => {
    // A socket and its operations live as long as the socket's renewal period.
    const connection = 'connection' in binding || binding.method === SOCKET_OPERATION;
    return new SignJWT({
      roles: [...caller.roles],
      scopes: [...caller.scopes],
      rh: bindingDigest(binding),
      ...(caller.clientId ? { cid: caller.clientId } : {}),
      ...(caller.sessionId ? { sid: caller.sessionId } : {}),
      ...(caller.name ? { name: caller.name } : {}),
      ...(caller.clientAddress ? { ip: caller.clientAddress } : {}),
    })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(ISSUER)
      .setAudience(binding.audience)
      .setSubject(caller.userId ?? '')
      .setIssuedAt()
      .setExpirationTime(`${connection ? connectionTtl : REQUEST_TTL_SECONDS}s`)
      .sign(await key);
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

/**
 * Verifies the router's signed caller header: signed with any secret of the
 * list (so the router can move to a new one without downtime), unexpired,
 * for this subgraph, and for this request or connection.
 */
export function createCallerVerifier(secrets: readonly string[]): CallerVerifier {
  const keys = new Map(
    secrets.map((s) => {
      const { kid, key } = secretKey(s);
      return [kid, key] as const;
    }),
  );
  return async (header, binding) => {
    if (!header) throw refused('UNSIGNED', 'Requests must come through the router.');
    try {
      const { payload } = await jwtVerify(
        header,
        (protectedHeader) => {
          const key = protectedHeader.kid ? keys.get(protectedHeader.kid) : undefined;
          if (!key) throw new Error('unknown key');
          return key;
        },
        { issuer: ISSUER, audience: binding.audience, algorithms: ['HS256'] },
      );
      if (payload.rh !== bindingDigest(binding)) throw new Error('signed for another request');
      const roles = Array.isArray(payload.roles) ? payload.roles.filter(isRole) : [];
      const scopes = Array.isArray(payload.scopes)
        ? payload.scopes.filter((s): s is string => typeof s === 'string')
        : [];
      return {
        userId: payload.sub || null,
        roles,
        scopes,
        ...(typeof payload.cid === 'string' ? { clientId: payload.cid } : {}),
        ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}),
        ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
        ...(typeof payload.ip === 'string' ? { clientAddress: payload.ip } : {}),
        signatureExpiresAt: new Date(payload.exp! * 1000),
      };
    } catch {
      throw refused('BAD_SIGNATURE', 'The request signature is invalid.');
    }
  };
}
