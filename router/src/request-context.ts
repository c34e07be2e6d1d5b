import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ANONYMOUS, bearerToken, type Caller, type createTokenVerifier } from '@arcadia/auth';

/**
 * What the router learns about one GraphQL request while serving it; the
 * access log line and the request metrics are written from it at the end.
 */
export interface RequestRecord {
  readonly requestId: string;
  /** The operation Apollo resolved, else the `operationName` the client sent. */
  operationName: string | null;
  /** Null until the bearer token is verified (and when it is refused). */
  caller: Caller | null;
  /** Distinct `extensions.code`s of the errors sent back, in order. */
  readonly errorCodes: string[];
  /** Whether the response carried `data` (partial data still counts). */
  hasData: boolean;
}

/** The Apollo context of one router request. */
export interface RouterContext {
  readonly caller: Caller;
  readonly requestId: string;
  readonly record: RequestRecord;
  /** The caller header for subgraphs, signed once and reused by every fetch of the request. */
  signedCaller(): Promise<string>;
}

/**
 * The record of the request being served. `formatError` has no request
 * argument, yet every error it formats belongs to the request in whose
 * async context it runs.
 */
export const requestScope = new AsyncLocalStorage<RequestRecord>();

/** Records one error code on the current request, if there is one. */
export function recordErrorCode(code: unknown, record = requestScope.getStore()): void {
  if (record && typeof code === 'string' && !record.errorCodes.includes(code)) {
    record.errorCodes.push(code);
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's `x-request-id` when it is a sane token, otherwise a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** A new record for a request that just arrived. */
export function newRequestRecord(requestId: string): RequestRecord {
  return { requestId, operationName: null, caller: null, errorCodes: [], hasData: false };
}

/**
 * The caller of an `Authorization` header: anonymous without one, the
 * token's subject with a valid bearer token. Anything else throws
 * UNAUTHENTICATED (HTTP 401) with a `reason`.
 */
export function createAuthenticator(verifier: ReturnType<typeof createTokenVerifier>) {
  return async (authorization: string | undefined): Promise<Caller> => {
    const token = bearerToken(authorization);
    if (token === null) return ANONYMOUS;
    const { expiresAt: _expiresAt, ...caller } = await verifier.verify(token);
    return caller;
  };
}

// The signed header lives 60 s; a request that runs longer re-signs before
// its later fetches so subgraphs never see an expired signature.
const RESIGN_AFTER_MS = 30_000;

/** Signs `caller` lazily, once per request, again only when the signature ages. */
export function lazySignature(sign: () => Promise<string>): () => Promise<string> {
  let cached: { at: number; header: Promise<string> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > RESIGN_AFTER_MS) cached = { at: now, header: sign() };
    return cached.header;
  };
}
