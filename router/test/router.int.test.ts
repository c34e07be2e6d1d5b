/**
 * The router's edge: authentication and caller forwarding, operation
 * limits, body limits, CSRF, CORS, Sandbox and health endpoints, against
 * two real subgraphs.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALLER_HEADER,
  createCallerSigner,
  createTokenSigner,
  generateJwtKey,
  type KeyMaterial,
} from '@arcadia/auth';
import { startSupergraph, testKeyMaterial, type TestSupergraph } from '@arcadia/testing';
import { accountsSubgraph, inventorySubgraph, postJson } from './fixtures.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let keys: KeyMaterial;
let supergraph: TestSupergraph;
let signer: ReturnType<typeof createTokenSigner>;

beforeAll(async () => {
  keys = await testKeyMaterial();
  signer = createTokenSigner(keys.jwtKeys);
  supergraph = await startSupergraph({
    subgraphs: [inventorySubgraph(keys), accountsSubgraph(keys)],
    keys,
    routerEnv: {
      CORS_ORIGINS: 'http://localhost:*,https://*.arcadia.example',
      SUBGRAPH_TIMEOUT_MS: '300',
    },
  });
  // The first request plans and warms caches; timings below are for the steady state.
  await supergraph.request('{ item(id: "1") { id } }');
});
afterAll(() => supergraph?.stop());

const alice = { userId: 'u1', roles: ['USER', 'STREAMER'] as const, scopes: [] };

function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: 'u1',
    roles: ['ADMIN'],
    iss: 'arcadia',
    aud: 'arcadia',
    iat: now,
    exp: now + 300,
    ...overrides,
  };
}

async function expectUnauthenticated(headers: Record<string, string>, reason: string) {
  const res = await postJson(supergraph.url, { query: '{ whoami }' }, headers);
  expect(res.status).toBe(401);
  expect(res.body).toEqual({
    errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED', reason } }],
  });
  expect(res.body.errors[0].message).toMatch(/^The (access token|Authorization header)/);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
}

describe('router authentication', () => {
  it('treats a request without Authorization as anonymous', async () => {
    const res = await supergraph.request('{ whoami myRoles }');
    expect(res).toMatchObject({ status: 200, data: { whoami: null, myRoles: [] } });
    expect(res.errors).toBeUndefined();
  });

  it('passes the verified caller of a valid token on to the subgraphs', async () => {
    const { token } = await signer.sign({ ...alice, roles: [...alice.roles] }, 60);
    const res = await supergraph.request('{ whoami myRoles }', { token });
    expect(res).toMatchObject({
      status: 200,
      data: { whoami: 'u1', myRoles: ['USER', 'STREAMER'] },
    });
  });

  it('forwards the client request id to the subgraphs', async () => {
    const res = await supergraph.request('{ myRequestId }', {
      headers: { 'x-request-id': 'req-abc-123' },
    });
    expect(res.data).toEqual({ myRequestId: 'req-abc-123' });
  });

  it('refuses an expired token with TOKEN_EXPIRED', async () => {
    const { token } = await signer.sign({ ...alice, roles: [] }, -60);
    await expectUnauthenticated({ authorization: `Bearer ${token}` }, 'TOKEN_EXPIRED');
  });

  it('refuses a token signed by a key the router does not trust', async () => {
    const stranger = createTokenSigner([await generateJwtKey()]);
    const { token } = await stranger.sign({ ...alice, roles: [] }, 60);
    await expectUnauthenticated({ authorization: `Bearer ${token}` }, 'TOKEN_INVALID');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
    await expectUnauthenticated({ authorization: `Bearer ${token}` }, 'TOKEN_INVALID');
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const jwk = keys.jwtKeys[0]!;
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })}.${b64(claims())}`;
    const signature = createHmac('sha256', jwk.x!).update(input).digest('base64url');
    await expectUnauthenticated({ authorization: `Bearer ${input}.${signature}` }, 'TOKEN_INVALID');
  });

  it('refuses a garbage token', async () => {
    await expectUnauthenticated({ authorization: 'Bearer not-a-jwt' }, 'TOKEN_INVALID');
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    await expectUnauthenticated({ authorization: 'Basic x' }, 'TOKEN_INVALID');
  });

  it('resolves a query that spans two subgraphs through a User entity', async () => {
    const res = await supergraph.request(
      '{ user(id: "u1") { handle inventory { name owner { handle } } } }',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      user: {
        handle: 'alice',
        inventory: [
          { name: 'Controller', owner: { handle: 'alice' } },
          { name: 'Headset', owner: { handle: 'alice' } },
        ],
      },
    });
  });
});

describe('subgraphs behind the router', () => {
  it('refuse a direct call without the signed caller header', async () => {
    const res = await postJson(supergraph.subgraphUrls.inventory!, { query: '{ whoami }' });
    expect(res.status).toBe(401);
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuse a caller header forged with another secret', async () => {
    const forged = await createCallerSigner(['not-the-router-secret'])(
      { userId: 'u1', roles: ['ADMIN'], scopes: [] },
      { audience: 'inventory', request: { query: '{ whoami }' } },
    );
    const res = await postJson(
      supergraph.subgraphUrls.inventory!,
      { query: '{ whoami }' },
      { [CALLER_HEADER]: forged },
    );
    expect(res.status).toBe(401);
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

/**
 * Posts `query` and checks it is refused as QUERY_TOO_COMPLEX for `limit`,
 * in well under 100 ms. The best of five attempts is timed: the machine
 * running the suite is shared, and one descheduled attempt says nothing
 * about the router.
 */
async function expectTooComplex(query: string, limit: string) {
  let fastest = Infinity;
  let res: Awaited<ReturnType<TestSupergraph['request']>> | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = performance.now();
    res = await supergraph.request(query);
    fastest = Math.min(fastest, performance.now() - started);
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors!.map((e) => e.extensions?.code)).toEqual(
      res.errors!.map(() => 'QUERY_TOO_COMPLEX'),
    );
    expect(res.errors!.map((e) => e.extensions?.limit)).toContain(limit);
  }
  expect(fastest).toBeLessThan(100);
  return res!;
}

describe('router operation limits', () => {
  it('refuses a query 50 levels deep', async () => {
    const query = `{ item(id: "1") { ${'related { '.repeat(49)}id${' }'.repeat(49)} } }`;
    const res = await expectTooComplex(query, 'depth');
    const depthError = res.errors!.find((e) => e.extensions?.limit === 'depth');
    expect(depthError!.message).toBe('Query depth limit of 15 exceeded, found 51.');
  });

  it('refuses an alias bomb of 1000 aliases', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: id`).join(' ');
    await expectTooComplex(`{ item(id: "1") { ${aliases} } }`, 'aliases');
  });

  it('refuses a cost bomb', async () => {
    await expectTooComplex('{ items(first: 10000) { id name related { id name } } }', 'cost');
  });

  it('refuses more root fields than allowed', async () => {
    const fields = Array.from({ length: 25 }, (_, i) => `w${i}: whoami`).join(' ');
    await expectTooComplex(`{ ${fields} }`, 'rootFields');
  });

  it('refuses a document with more tokens than allowed', async () => {
    await expectTooComplex(`{ ${'__typename '.repeat(6000)}}`, 'tokens');
  });

  it('still reports plain syntax errors as GRAPHQL_PARSE_FAILED', async () => {
    const res = await supergraph.request('{ item(id: "1") { id }');
    expect(res.status).toBe(400);
    expect(res.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('accepts an operation within every limit', async () => {
    const res = await supergraph.request('{ item(id: "1") { name related { name } } }');
    expect(res).toMatchObject({
      status: 200,
      data: { item: { name: 'Controller', related: { name: 'Headset' } } },
    });
  });

  it('gives up on a subgraph fetch after SUBGRAPH_TIMEOUT_MS with SERVICE_UNAVAILABLE', async () => {
    const started = performance.now();
    const res = await supergraph.request('{ slow(ms: 1500) item(id: "1") { name } }');
    expect(performance.now() - started).toBeLessThan(1_200);
    expect(res.data).toBeNull();
    expect(res.errors![0]!.extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      serviceName: 'inventory',
    });
  });

  it("keeps a subgraph's own errors and partial data when it answers with a non-2xx status", async () => {
    // The subgraph itself answers HTTP 429 to this operation…
    const signed = await createCallerSigner(keys.internalSecrets)(
      { userId: null, roles: [], scopes: [] },
      { audience: 'inventory', request: { query: '{ limited }' } },
    );
    const direct = await postJson(
      supergraph.subgraphUrls.inventory!,
      { query: '{ limited }' },
      { [CALLER_HEADER]: signed },
    );
    expect(direct.status).toBe(429);
    // …and the router still hands its error and data through.
    const res = await supergraph.request('{ limited item(id: "1") { name } }');
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ limited: null, item: { name: 'Controller' } });
    expect(res.errors).toEqual([
      {
        message: 'Slow down.',
        path: ['limited'],
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 30, serviceName: 'inventory' },
      },
    ]);
  });

  it('answers 413 PAYLOAD_TOO_LARGE to a body over BODY_LIMIT', async () => {
    const res = await postJson(supergraph.url, {
      query: 'query Big($pad: String) { whoami }',
      variables: { pad: 'x'.repeat(150_000) },
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
  });

  it('answers 400 BAD_REQUEST to malformed JSON', async () => {
    const res = await postJson(supergraph.url, '{"query": "{ whoami }"');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('keeps CSRF prevention on for requests a browser could send without a preflight', async () => {
    const res = await fetch(`${supergraph.url}?query=${encodeURIComponent('{ whoami }')}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });
});

describe('router HTTP surface', () => {
  const origin = () => new URL(supergraph.url).origin;

  it('serves the Sandbox landing page to browsers on / and /graphql', async () => {
    for (const path of ['/', '/graphql']) {
      const res = await fetch(origin() + path, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).toMatch(/embeddable-sandbox/i);
    }
  });

  it('serves GraphQL on / as well as /graphql', async () => {
    const res = await postJson(`${origin()}/`, { query: '{ item(id: "2") { name } }' });
    expect(res).toMatchObject({ status: 200, body: { data: { item: { name: 'Headset' } } } });
  });

  it('allows configured CORS origins and ignores others', async () => {
    const preflight = (from: string) =>
      fetch(supergraph.url, {
        method: 'OPTIONS',
        headers: {
          origin: from,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const local = await preflight('http://localhost:5173');
    expect(local.status).toBe(204);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const sub = await preflight('https://play.arcadia.example');
    expect(sub.headers.get('access-control-allow-origin')).toBe('https://play.arcadia.example');
    for (const evil of [
      'https://evil.example',
      'https://arcadia.example.evil.net',
      'http://localhost.evil.net',
    ]) {
      const res = await preflight(evil);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('answers /health with 200', async () => {
    const res = await fetch(`${origin()}/health`);
    expect(res.status).toBe(200);
  });

  it('answers /ready with 200 when every subgraph is healthy', async () => {
    const res = await fetch(`${origin()}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready' });
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await fetch(`${origin()}/nope`);
    expect(res.status).toBe(404);
  });
});
