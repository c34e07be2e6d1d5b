import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import { ErrorCode } from '@arcadia/errors';

/** Whether `address`, `hop` steps from the router, is a proxy whose `X-Forwarded-For` is believed. */
type Trust = (address: string, hop: number) => boolean;

// proxy-addr is what Express's `trust proxy` runs on; it ships no type
// declarations, so its two calls used here are typed by hand.
const proxyAddr = createRequire(import.meta.url)('proxy-addr') as {
  (req: IncomingMessage, trust: Trust): string;
  compile(addresses: string[]): Trust;
};

/** The client address of a request; see {@link clientAddressResolver}. */
export type ClientAddress = (req: IncomingMessage) => string;

/**
 * The address a request comes from, for per-client limits (connections
 * here, sign-in attempts in accounts). The TCP peer, unless that peer is one
 * of `trustedProxies` (IP addresses or CIDR ranges, `TRUSTED_PROXIES`): then
 * `X-Forwarded-For` is read from the right, skipping trusted proxies, and the
 * first address that is not one is the client. With no trusted proxies the
 * header is ignored: anyone can write it.
 */
export function clientAddressResolver(trustedProxies: readonly string[]): ClientAddress {
  if (trustedProxies.length === 0) return (req) => req.socket.remoteAddress ?? 'unknown';
  // Throws on an entry that is not an address or range: a configuration error at start-up.
  const trust = proxyAddr.compile([...trustedProxies]);
  return (req) => proxyAddr(req, trust);
}

/** Seconds a refused client is told to wait (`Retry-After`). */
const RETRY_AFTER_SECONDS = 1;

/**
 * Counts each client address's open connections, from the connection's
 * first request (or WebSocket handshake) until it closes, and refuses
 * connections beyond `maxPerClient` (0: no cap). A connection that never
 * sends a request is not counted: the headers timeout closes it.
 */
export function connectionLimiter(
  maxPerClient: number,
  clientAddress: ClientAddress = clientAddressResolver([]),
) {
  const open = new Map<string, number>();
  const counted = new WeakSet<Socket>();
  /** True when the request's connection is (or now becomes) one of its client's admitted ones. */
  const admit = (req: IncomingMessage): boolean => {
    const socket = req.socket;
    if (maxPerClient <= 0 || counted.has(socket)) return true;
    const address = clientAddress(req);
    const count = open.get(address) ?? 0;
    if (count >= maxPerClient) return false;
    open.set(address, count + 1);
    counted.add(socket);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
    return true;
  };
  /**
   * First handler of every HTTP request: beyond the cap, HTTP 429 with
   * `Retry-After` and the connection closed after the answer.
   */
  const middleware: RequestHandler = (req, res, next) => {
    if (admit(req)) return next();
    res.setHeader('connection', 'close');
    res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
    res.status(429).json({
      errors: [
        {
          message: 'Too many connections from this address.',
          extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: RETRY_AFTER_SECONDS },
        },
      ],
    });
  };
  /** For ws's `verifyClient`: a handshake beyond the cap is refused with HTTP 429. */
  const verifyClient = (
    info: { req: IncomingMessage },
    done: (
      result: boolean,
      code?: number,
      message?: string,
      headers?: Record<string, string>,
    ) => void,
  ) => {
    if (admit(info.req)) done(true);
    else done(false, 429, 'Too Many Requests', { 'retry-after': String(RETRY_AFTER_SECONDS) });
  };
  return { middleware, verifyClient };
}

/** How long a connection may take to send what it owes; see {@link httpServerOptions}. */
interface HttpTimeouts {
  /** From connecting (or the previous response) to a request's complete headers. */
  headersTimeoutMs: number;
  /** From connecting to a request's complete body. */
  requestTimeoutMs: number;
}

/**
 * Node's own request timeouts at the router's values, for `createServer`,
 * with the expiry check run often enough for them (every 30 s by default,
 * so a 10 s timeout would take up to 40 s). Node answers an expired
 * connection 408 and closes it, including one that never sent a byte;
 * keep-alive connections idle between requests are closed by Node's
 * keepAliveTimeout (5 s).
 */
export function httpServerOptions(timeouts: HttpTimeouts) {
  return {
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(
      10,
      Math.min(1_000, Math.floor(timeouts.headersTimeoutMs / 2)),
    ),
  };
}
