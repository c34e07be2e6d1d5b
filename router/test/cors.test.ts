import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from 'cors';
import express, { type RequestHandler } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { corsMiddleware } from '../src/cors.js';

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/** Serves `middleware` then a 200, and returns the response headers of one request. */
async function headersOf(middleware: RequestHandler, init: RequestInit = {}) {
  const app = express();
  app.use(middleware, (_req, res) => {
    res.send('ok');
  });
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, init);
  const pick = (name: string) => res.headers.get(name);
  return {
    status: res.status,
    vary: pick('vary'),
    allowOrigin: pick('access-control-allow-origin'),
    exposeHeaders: pick('access-control-expose-headers'),
  };
}

describe('the CORS middleware', () => {
  // What the cors package itself answers with the router's options.
  const reference = cors({
    origin: (_origin, callback) => callback(null, true),
    methods: ['GET', 'POST', 'OPTIONS'],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  });

  it('answers a request without Origin with the same headers as the cors package', async () => {
    const ours = await headersOf(corsMiddleware(['http://localhost:*']), { method: 'POST' });
    expect(ours).toEqual(await headersOf(reference, { method: 'POST' }));
    expect(ours).toMatchObject({
      vary: 'Origin',
      allowOrigin: null,
      exposeHeaders: 'x-request-id',
    });
  });

  it('still reflects an allowed Origin and refuses another', async () => {
    const middleware = corsMiddleware(['http://localhost:*']);
    const allowed = await headersOf(middleware, { headers: { origin: 'http://localhost:5173' } });
    expect(allowed.allowOrigin).toBe('http://localhost:5173');
    const refused = await headersOf(middleware, { headers: { origin: 'https://evil.example' } });
    expect(refused.allowOrigin).toBeNull();
  });
});
