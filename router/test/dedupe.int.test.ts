/**
 * In-flight deduplication (DEDUPLICATE_INFLIGHT): concurrent identical
 * queries execute once per caller scope, identical subgraph fetches of
 * concurrent queries share one request, and every request still gets its
 * own request id, log line and metrics. Never mutations, never a cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import {
  eventually,
  startSupergraph,
  testKeyMaterial,
  type TestSupergraph,
} from '@arcadia/testing';
import { createRouter, parseRouterEnv, type Router } from '../src/index.js';
import { accountsSubgraph, capturingLogger, postJson, tallySubgraph } from './fixtures.js';
import { metricValue } from './metrics-text.js';

/** How often each label was resolved in the `tally` subgraph (see `tallySubgraph`). */
const executions = new Map<string, number>();

let keys: KeyMaterial;
let supergraph: TestSupergraph;
let signer: ReturnType<typeof createTokenSigner>;
/** A router on the same subgraphs logging into `logs`, with its metrics at `metricsUrl`. */
let router: Router;
let url: string;
let metricsUrl: string;
/** The same with DEDUPLICATE_INFLIGHT=false. */
let plain: Router;
let plainUrl: string;
const { logger, lines: logs } = capturingLogger();

beforeAll(async () => {
  keys = await testKeyMaterial();
  signer = createTokenSigner(keys.jwtKeys);
  supergraph = await startSupergraph({
    subgraphs: [tallySubgraph(keys, executions), accountsSubgraph(keys)],
    keys,
  });
  const config = (overrides: Record<string, string>) =>
    parseRouterEnv({ ...process.env, LOG_LEVEL: 'silent', ...overrides });
  router = await createRouter({
    config: config({}),
    supergraphSdl: supergraph.supergraphSdl,
    keys,
    logger,
  });
  url = await router.listen(0, '127.0.0.1');
  metricsUrl = await router.listenMetrics(0);
  plain = await createRouter({
    config: config({ DEDUPLICATE_INFLIGHT: 'false' }),
    supergraphSdl: supergraph.supergraphSdl,
    keys,
    logger: createLogger('router', 'silent'),
  });
  plainUrl = await plain.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await plain?.close();
  await router?.close();
  await supergraph?.stop();
});

const unique = (() => {
  let n = 0;
  return (prefix: string) => `${prefix}-${process.pid}-${++n}`;
})();

function post(
  query: string,
  options: { token?: string; requestId?: string; target?: string } = {},
) {
  return postJson(
    options.target ?? url,
    { query },
    {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
    },
  );
}

async function metrics(): Promise<string> {
  return (await fetch(metricsUrl)).text();
}

async function tokenOf(userId: string, sessionId = 's1') {
  const { token } = await signer.sign({ userId, roles: ['USER'], scopes: [], sessionId }, 60);
  return token;
}

describe('in-flight deduplication of operations', () => {
  it('executes concurrent identical queries once, each request keeping its own id, log line and metrics', async () => {
    const label = unique('same');
    const before = metricValue(await metrics(), 'router_deduplicated_operations_total', {});
    const ids = [1, 2, 3, 4, 5].map(() => unique('req'));
    const query = `query Shared { counted(label: "${label}", ms: 200) }`;
    const responses = await Promise.all(ids.map((requestId) => post(query, { requestId })));

    expect(executions.get(label)).toBe(1);
    for (const [i, res] of responses.entries()) {
      expect(res).toMatchObject({ status: 200, body: { data: { counted: 1 } } });
      expect(res.headers.get('x-request-id')).toBe(ids[i]);
    }
    await eventually(
      () =>
        ids.every((id) =>
          logs.some(
            (l) =>
              l.msg === 'graphql request' &&
              l.requestId === id &&
              l.operationName === 'Shared' &&
              l.status === 200 &&
              l.outcome === 'success',
          ),
        ),
      { what: 'one access log line per request' },
    );
    const text = await metrics();
    expect(metricValue(text, 'router_deduplicated_operations_total', {}) - before).toBe(4);
    expect(
      metricValue(text, 'graphql_requests_total', { operation: 'Shared', outcome: 'success' }),
    ).toBe(5);
  });

  it('executes every concurrent identical query when DEDUPLICATE_INFLIGHT is false', async () => {
    const label = unique('plain');
    const query = `{ counted(label: "${label}", ms: 200) }`;
    const responses = await Promise.all([1, 2, 3].map(() => post(query, { target: plainUrl })));
    expect(executions.get(label)).toBe(3);
    expect(responses.map((r) => r.body.data.counted).sort()).toEqual([1, 2, 3]);
  });

  it('keeps nothing once the execution is over: the same query later executes again', async () => {
    const label = unique('again');
    const query = `{ counted(label: "${label}", ms: 20) }`;
    expect((await post(query)).body).toEqual({ data: { counted: 1 } });
    expect((await post(query)).body).toEqual({ data: { counted: 2 } });
  });

  it('shares a query only within the same caller: never across users, nor with anonymous callers', async () => {
    const label = unique('mine');
    const query = `{ mine(label: "${label}", ms: 200) }`;
    const [alice, aliceAgain, bob, anonymous, anonymousAgain] = await Promise.all([
      post(query, { token: await tokenOf('u1') }),
      post(query, { token: await tokenOf('u1') }),
      post(query, { token: await tokenOf('u2') }),
      post(query),
      post(query),
    ]);
    // Three executions: alice's pair, bob's and the anonymous pair.
    expect(executions.get(label)).toBe(3);
    expect(alice.body.data.mine).toMatch(/^u1:/);
    expect(aliceAgain.body).toEqual(alice.body);
    expect(bob.body.data.mine).toMatch(/^u2:/);
    expect(anonymous.body.data.mine).toMatch(/^anonymous:/);
    expect(anonymousAgain.body).toEqual(anonymous.body);
  });

  it('does not share between two sessions of the same user', async () => {
    const label = unique('session');
    const query = `{ mine(label: "${label}", ms: 200) }`;
    await Promise.all([
      post(query, { token: await tokenOf('u1', 'first') }),
      post(query, { token: await tokenOf('u1', 'second') }),
    ]);
    expect(executions.get(label)).toBe(2);
  });

  it('never deduplicates mutations, nor their subgraph fetches', async () => {
    const label = unique('bump');
    const query = `mutation { bump(label: "${label}", ms: 200) }`;
    const responses = await Promise.all([1, 2, 3].map(() => post(query)));
    expect(executions.get(label)).toBe(3);
    expect(responses.map((r) => r.body.data.bump).sort()).toEqual([1, 2, 3]);
  });

  it('shares an error among the requests waiting for it, then forgets it', async () => {
    const label = unique('failing');
    const query = `query Failing { failing(label: "${label}", ms: 200) }`;
    const responses = await Promise.all([1, 2, 3].map(() => post(query)));
    expect(executions.get(label)).toBe(1);
    for (const res of responses) {
      expect(res.body).toMatchObject({
        data: { failing: null },
        errors: [{ message: 'Nothing here.', extensions: { code: 'NOT_FOUND' } }],
      });
    }
    // Each waiter's record got the error code: counted as partial for each.
    expect(
      metricValue(await metrics(), 'graphql_requests_total', {
        operation: 'Failing',
        outcome: 'partial',
      }),
    ).toBe(3);
    await post(query);
    expect(executions.get(label)).toBe(2);
  });
});

describe('in-flight deduplication of subgraph fetches', () => {
  it('sends one request for identical fetches of different concurrent queries', async () => {
    const label = unique('fetch');
    const metric = { service: 'tally' };
    const before = metricValue(
      await metrics(),
      'router_deduplicated_subgraph_fetches_total',
      metric,
    );
    // Different operations (not deduplicated as a whole) whose tally fetch is the same.
    const [first, second] = await Promise.all([
      post(`{ counted(label: "${label}", ms: 200) user(id: "u1") { handle } }`),
      post(`{ counted(label: "${label}", ms: 200) user(id: "u2") { handle } }`),
    ]);
    expect(executions.get(label)).toBe(1);
    expect(first.body).toEqual({ data: { counted: 1, user: { handle: 'alice' } } });
    expect(second.body).toEqual({ data: { counted: 1, user: { handle: 'bob' } } });
    const after = metricValue(
      await metrics(),
      'router_deduplicated_subgraph_fetches_total',
      metric,
    );
    expect(after - before).toBe(1);
  });

  it('does not share fetches across users', async () => {
    const label = unique('fetch-users');
    await Promise.all([
      post(`{ mine(label: "${label}", ms: 200) user(id: "u1") { handle } }`, {
        token: await tokenOf('u1'),
      }),
      post(`{ mine(label: "${label}", ms: 200) user(id: "u2") { handle } }`, {
        token: await tokenOf('u2'),
      }),
    ]);
    expect(executions.get(label)).toBe(2);
  });
});
