import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createRedisConnection } from '@arcadia/redis';
import {
  eventually,
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type TestSupergraph,
} from '@arcadia/testing';
import { createRouter, parseRouterEnv, type Router, type RouterConfig } from '../src/index.js';
import { accountsSubgraph, capturingLogger, inventorySubgraph, postJson } from './fixtures.js';

// One Redis namespace for this file: both routers share it, other runs do not.
const REDIS_KEY_PREFIX = `${uniqueName('router')}:`;

let keys: KeyMaterial;
let supergraph: TestSupergraph;
/** A second router on the same subgraphs and Redis, logging into `logs`. */
let second: Router;
let secondUrl: string;
const { logger, lines: logs } = capturingLogger();

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  keys = await testKeyMaterial();
  supergraph = await startSupergraph({
    subgraphs: [inventorySubgraph(keys), accountsSubgraph(keys)],
    keys,
    routerEnv: { REDIS_KEY_PREFIX },
  });
  // The second router gets a supergraph whose join__graph URLs point nowhere,
  // and reaches the subgraphs only through SUBGRAPH_URLS.
  const deadSdl = supergraph.supergraphSdl.replace(
    /url: "http:\/\/127\.0\.0\.1:\d+\/graphql"/g,
    'url: "http://127.0.0.1:9/graphql"',
  );
  const config = parseRouterEnv({
    ...process.env,
    REDIS_KEY_PREFIX,
    SUBGRAPH_URLS: Object.entries(supergraph.subgraphUrls)
      .map(([name, url]) => `${name}=${url}`)
      .join(','),
  });
  second = await createRouter({ config, supergraphSdl: deadSdl, keys, logger });
  secondUrl = await second.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await second?.close();
  await supergraph?.stop();
  // Leave the shared Redis as we found it.
  const config: RouterConfig = parseRouterEnv(process.env);
  const redis = createRedisConnection({
    url: config.REDIS_URL,
    name: 'router-test',
    use: 'commands',
  });
  const keys = await redis.keys(`${REDIS_KEY_PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  await redis.close();
});

/** The log lines of the request with `x-request-id: requestId`, once it has been logged. */
async function requestLines(requestId: string) {
  const linesOf = (id: string) =>
    logs.filter((l) => l.requestId === id && l.msg === 'graphql request');
  await eventually(() => linesOf(requestId).length > 0, {
    what: `the log line of request ${requestId}`,
  });
  // Positive control rather than a pause: a request sent now is logged after
  // anything still to come for the first, so a late second line would show.
  const control = `${requestId}-control`;
  await postJson(secondUrl, { query: '{ __typename }' }, { 'x-request-id': control });
  await eventually(() => linesOf(control).length > 0, {
    what: `the log line of the control request ${control}`,
  });
  return linesOf(requestId);
}

describe('automatic persisted queries', () => {
  it('register a query by hash and serve it from any router sharing Redis', async () => {
    const query = `query Apq${Date.now()} { item(id: "3") { name } }`;
    const persisted = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };

    const miss = await postJson(supergraph.url, { extensions: persisted });
    expect(miss.status).toBe(200);
    expect(miss.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    const register = await postJson(supergraph.url, { query, extensions: persisted });
    expect(register.body).toEqual({ data: { item: { name: 'Console' } } });

    // Registration is written to Redis after the response.
    const hit = await eventually(
      async () => {
        const res = await postJson(supergraph.url, { extensions: persisted });
        return res.body.data ? res : null;
      },
      { what: 'the registered query to be served by its hash' },
    );
    expect(hit.body).toEqual({ data: { item: { name: 'Console' } } });

    const elsewhere = await postJson(secondUrl, { extensions: persisted });
    expect(elsewhere.body).toEqual({ data: { item: { name: 'Console' } } });
  });

  it('refuse a hash that does not match the query sent with it', async () => {
    const res = await postJson(supergraph.url, {
      query: '{ whoami }',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ other }') } },
    });
    expect(res.status).toBe(400);
  });
});

describe('router observability', () => {
  it('writes exactly one log line per request, with operation, caller, status and duration', async () => {
    const signer = createTokenSigner(keys.jwtKeys);
    const { token } = await signer.sign(
      { userId: 'u9', roles: ['PARTNER'], scopes: ['store:publish'], clientId: 'studio-1' },
      60,
    );
    const res = await postJson(
      secondUrl,
      { query: 'query WhoAmI { whoami }', operationName: 'WhoAmI' },
      { authorization: `Bearer ${token}`, 'x-request-id': 'log-ok-1' },
    );
    expect(res.body).toEqual({ data: { whoami: 'u9' } });
    expect(res.headers.get('x-request-id')).toBe('log-ok-1');

    const [line, ...more] = await requestLines('log-ok-1');
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      service: 'router',
      msg: 'graphql request',
      transport: 'http',
      operationName: 'WhoAmI',
      operationType: 'query',
      caller: 'u9',
      clientId: 'studio-1',
      status: 200,
      outcome: 'success',
      errorCodes: [],
    });
    expect(line!.durationMs).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain(token);
  });

  it('logs refused requests once, with their error codes', async () => {
    await postJson(
      secondUrl,
      { query: '{ whoami }' },
      { authorization: 'Bearer junk', 'x-request-id': 'log-401' },
    );
    await postJson(
      secondUrl,
      { query: '{ whoami }', variables: { pad: 'x'.repeat(200_000) } },
      { 'x-request-id': 'log-413' },
    );
    const unauthenticated = await requestLines('log-401');
    expect(unauthenticated).toHaveLength(1);
    expect(unauthenticated[0]).toMatchObject({
      status: 401,
      caller: null,
      errorCodes: ['UNAUTHENTICATED'],
      outcome: 'error',
    });
    const tooLarge = await requestLines('log-413');
    expect(tooLarge).toHaveLength(1);
    expect(tooLarge[0]).toMatchObject({ status: 413, errorCodes: ['PAYLOAD_TOO_LARGE'] });
  });

  it('exposes request and subgraph metrics on /metrics', async () => {
    await postJson(secondUrl, {
      query: 'query ItemName { item(id: "1") { name owner { handle } } }',
    });
    const text = await (await fetch(await second.listenMetrics(0))).text();
    expect(text).toMatch(
      /graphql_requests_total\{[^}]*operation="ItemName"[^}]*outcome="success"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /graphql_request_duration_seconds_count\{[^}]*operation="ItemName"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /subgraph_fetch_duration_seconds_count\{[^}]*service="inventory"[^}]*\} \d+/,
    );
    expect(text).toMatch(
      /subgraph_fetch_duration_seconds_count\{[^}]*service="accounts"[^}]*\} \d+/,
    );
  });
});

describe('a router built but never started', () => {
  it('closes cleanly', async () => {
    const router = await createRouter({
      config: parseRouterEnv({ ...process.env, REDIS_KEY_PREFIX }),
      supergraphSdl: supergraph.supergraphSdl,
      keys,
      logger: createLogger('router', 'silent'),
    });
    await router.close();
    await router.close();
  });
});

// Last: it stops a subgraph the other tests need.
describe('a router with a subgraph down', () => {
  it('answers with partial data and SERVICE_UNAVAILABLE naming the service, and stays up', async () => {
    await supergraph.stopSubgraph('accounts');
    const accountsPort = new URL(supergraph.subgraphUrls.accounts!).port;

    const res = await supergraph.request('query Owner { item(id: "1") { name owner { handle } } }');
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ item: { name: 'Controller', owner: null } });
    expect(res.errors).toHaveLength(1);
    const [error] = res.errors!;
    expect(error!.extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      serviceName: 'accounts',
    });
    expect(error!.message).toContain('accounts');
    const shown = JSON.stringify(error);
    for (const secret of ['127.0.0.1', accountsPort, 'ECONNREFUSED', 'fetch failed']) {
      expect(shown).not.toContain(secret);
    }

    const still = await supergraph.request('{ item(id: "2") { name } }');
    expect(still).toMatchObject({ status: 200, data: { item: { name: 'Headset' } } });

    const origin = new URL(supergraph.url).origin;
    const ready = await fetch(`${origin}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'unavailable', down: ['accounts'] });
    expect((await fetch(`${origin}/health`)).status).toBe(200);

    const metrics = await (await fetch(await supergraph.router.listenMetrics(0))).text();
    expect(metrics).toMatch(/subgraph_fetch_errors_total\{[^}]*service="accounts"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/graphql_requests_total\{[^}]*operation="Owner"[^}]*outcome="partial"/);
  });
});
