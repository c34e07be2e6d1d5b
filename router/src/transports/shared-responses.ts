/**
 * In-flight sharing of whole HTTP responses: while a query request is
 * being answered, an identical request (same method, body bytes or query
 * string, answer-changing headers and caller scope) waits for that answer
 * and is sent the same status, body headers and body bytes, without going
 * through Apollo's pipeline, serialising the result again or hashing it
 * for an ETag. It complements the executor's deduplication (`dedupe.ts`),
 * which still runs the pipeline once per request.
 *
 * Never a cache: a request only joins a response that is still being made,
 * and the entry is dropped the moment the leader's response ends.
 */
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { ErrorCode } from '@arcadia/errors';
import type { Authenticate, Authenticated } from '../auth.js';
import { callerScope } from '../dedupe.js';
import type { RequestRecord } from '../request-context.js';

/** Largest body (POST) or query string (GET), in bytes, of a request that may share. */
export const MAX_SHARED_REQUEST_BYTES = 64 * 1024;

/**
 * Request headers that can change the answer to the same body: the media
 * type negotiated, Apollo's CSRF prevention (a simple request without a
 * preflight header is refused) and Express's conditional GET (a matching
 * validator turns the answer into a 304).
 */
const KEYED_HEADERS = [
  'content-type',
  'accept',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'if-none-match',
  'if-modified-since',
] as const;

/** Response headers that describe the body, copied to every sharer; the rest stay each request's own. */
const BODY_HEADERS = ['content-type', 'content-length', 'cache-control', 'etag'] as const;

/** A leader's finished answer, as its sharers send it. */
interface SharedResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, OutgoingHttpHeader])[];
  readonly body: Buffer;
  readonly operationName: string | null;
  readonly errorCodes: readonly string[];
  readonly hasData: boolean;
}

/** A request whose raw JSON body was kept by {@link keepRawBody}. */
type WithRawBody = IncomingMessage & { rawBody?: Buffer };

/**
 * `verify` option of `express.json`: keeps the body's bytes (the parser's
 * own buffer, no copy) when they are small enough to key a shared response.
 */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, body: Buffer): void {
  if (body.length <= MAX_SHARED_REQUEST_BYTES) (req as WithRawBody).rawBody = body;
}

/**
 * The request's authentication, run once however many handlers ask for it:
 * {@link shareResponses} needs the caller to key the request, Apollo's
 * context needs it again. A refused token rejects for every asker.
 */
export function authenticationOf(
  res: Response,
  authenticate: Authenticate,
  authorization: unknown,
): Promise<Authenticated> {
  const locals = res.locals as { authentication?: Promise<Authenticated> };
  locals.authentication ??= authenticate(authorization);
  return locals.authentication;
}

/** What {@link shareResponses} needs. */
export interface ResponseSharingOptions {
  authenticate: Authenticate;
  /** Called for every request answered with another request's response. */
  onShared?: () => void;
}

/**
 * The handler, mounted right before Apollo's, that lets concurrent
 * identical query requests share one response; see the module comment.
 *
 * Each request authenticates itself first (a refused token goes on to
 * Apollo and gets its own 401) and is keyed by its caller scope, so
 * callers never see each other's answers. The first request of a key (the
 * leader) runs through Apollo; the requests that arrive while it does
 * (followers) wait for its response. Followers get it only when it is the
 * answer to a query, in one piece, below 500 and not a per-client refusal
 * (RATE_LIMITED); if the leader was a mutation, failed or its client left,
 * each follower runs on its own. Every request keeps its own request id,
 * CORS headers, log line and metrics; its record gets the leader's
 * operation, error codes and `hasData`.
 */
export function shareResponses(options: ResponseSharingOptions): RequestHandler {
  const inflight = new Map<string, Promise<SharedResponse | undefined>>();

  return async (req, res, next) => {
    const request = requestKey(req);
    if (request === undefined) {
      next();
      return;
    }
    const record = res.locals.record as RequestRecord;
    let authenticated: Authenticated;
    try {
      authenticated = await authenticationOf(res, options.authenticate, req.headers.authorization);
    } catch {
      // Apollo's context gets the same refusal and answers this request alone.
      next();
      return;
    }
    const key = `${callerScope(authenticated.caller, record.clientAddress)}\n${request}`;

    const leader = inflight.get(key);
    if (leader) {
      const shared = await leader;
      // The follower's client may have left while it waited (logged as such).
      if (res.destroyed || res.headersSent) return;
      if (!shared) {
        next();
        return;
      }
      record.caller = authenticated.caller;
      record.operationName = shared.operationName;
      record.operationType = 'query';
      for (const code of shared.errorCodes) {
        if (!record.errorCodes.includes(code)) record.errorCodes.push(code);
      }
      record.hasData = shared.hasData;
      res.statusCode = shared.status;
      for (const [name, value] of shared.headers) res.setHeader(name, value);
      res.end(shared.body);
      options.onShared?.();
      return;
    }

    inflight.set(
      key,
      captureResponse(res, record, () => {
        // Synchronously as the leader's response ends: no later request can join it.
        inflight.delete(key);
      }),
    );
    next();
  };
}

/**
 * What identifies a request's answer apart from its caller, or undefined
 * for a request that never shares: not GET or POST, an event stream, a
 * POST body that is not JSON (or too large to keep), a long query string.
 */
function requestKey(req: WithRawBody): string | undefined {
  let payload: string;
  if (req.method === 'POST') {
    if (!req.rawBody) return undefined;
    // latin1 maps each byte to one character: the exact bytes, no decoding.
    payload = req.rawBody.toString('latin1');
  } else if (req.method === 'GET') {
    const url = req.url ?? '';
    const at = url.indexOf('?');
    if (at < 0 || url.length - at > MAX_SHARED_REQUEST_BYTES) return undefined;
    payload = url.slice(at + 1);
  } else {
    return undefined;
  }
  if ((req.headers.accept ?? '').includes('text/event-stream')) return undefined;
  const headers = KEYED_HEADERS.map((name) => req.headers[name] ?? null);
  return JSON.stringify([req.method, headers, payload]);
}

/**
 * Watches the leader's response; resolves with it when it ends in one
 * piece and may be shared, or with undefined (its sharers then run on
 * their own). `done` runs as the response ends, or is given up.
 */
function captureResponse(
  res: Response,
  record: RequestRecord,
  done: () => void,
): Promise<SharedResponse | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (shared: SharedResponse | undefined) => {
      if (settled) return;
      settled = true;
      done();
      resolve(shared);
    };
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    // Express's `res.send` ends with the whole body in one call (a Buffer
    // once it computed the ETag); anything written before means a stream.
    res.end = ((...args: unknown[]) => {
      settle(res.headersSent ? undefined : shareable(res, record, bodyOf(args[0], args[1])));
      return end(...args);
    }) as Response['end'];
    // A client that left, or a socket that failed, before the end.
    res.once('close', () => settle(undefined));
  });
}

/** The bytes of an `end(chunk, encoding)`; undefined without a chunk. */
function bodyOf(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return Buffer.isBuffer(chunk) ? chunk : undefined;
}

function shareable(
  res: Response,
  record: RequestRecord,
  body: Buffer | undefined,
): SharedResponse | undefined {
  if (!body?.length) return undefined;
  if (record.operationType !== 'query' || res.statusCode >= 500) return undefined;
  // Rate limits count per client address, which anonymous callers' scope leaves out.
  if (record.errorCodes.includes(ErrorCode.RATE_LIMITED)) return undefined;
  const headers: [string, OutgoingHttpHeader][] = [];
  for (const name of BODY_HEADERS) {
    const value = res.getHeader(name);
    if (value !== undefined) headers.push([name, value]);
  }
  return {
    status: res.statusCode,
    headers,
    body,
    operationName: record.operationName,
    errorCodes: [...record.errorCodes],
    hasData: record.hasData,
  };
}
