import cors from 'cors';
import type { RequestHandler } from 'express';

/** The response headers browser clients may read. */
const EXPOSED_HEADERS = 'x-request-id';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Turns an allowed-origin pattern into a matcher. `:*` at the end matches
 * any port (or none); another `*` matches exactly one DNS label, so
 * `https://*.example.com` can never match `https://example.com.evil.net`.
 */
export function originMatcher(pattern: string): (origin: string) => boolean {
  if (!pattern.includes('*')) {
    const exact = pattern.replace(/\/+$/, '').toLowerCase();
    return (origin) => origin.toLowerCase() === exact;
  }
  const source = escapeRegExp(pattern.replace(/\/+$/, '').toLowerCase())
    .replace(/:\\\*$/, '(?::\\d{1,5})?')
    .replace(/\\\*/g, '[a-z0-9-]+');
  const regex = new RegExp(`^${source}$`);
  return (origin) => regex.test(origin.toLowerCase());
}

/**
 * CORS for the GraphQL endpoint. Requests without an `Origin` (curl, servers,
 * same-origin) are not CORS requests and pass; `*` in the list allows every
 * origin. Credentials stay off: clients authenticate with bearer tokens, not
 * cookies.
 */
export function corsMiddleware(allowedOrigins: readonly string[]): RequestHandler {
  const allowAll = allowedOrigins.includes('*');
  const matchers = allowedOrigins.map(originMatcher);
  const handler = cors({
    origin: allowAll
      ? true
      : (origin, callback) => {
          callback(null, origin === undefined || matchers.some((match) => match(origin)));
        },
    methods: ['GET', 'POST', 'OPTIONS'],
    // Lets browser clients quote the id when they report a problem.
    exposedHeaders: [EXPOSED_HEADERS],
    maxAge: 600,
  });
  return (req, res, next) => {
    // Most requests are not CORS requests (no Origin) and no preflight; the
    // cors package would rebuild its options for each only to add these two
    // headers, a measurable share of a small query's cost.
    if (req.headers.origin === undefined && req.method !== 'OPTIONS') {
      res.vary('Origin');
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      next();
      return;
    }
    handler(req, res, next);
  };
}
