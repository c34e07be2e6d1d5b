/**
 * In-flight sharing of HTTP responses (DEDUPLICATE_INFLIGHT): concurrent
 * identical query requests of one caller scope are sent one response, the
 * same bytes, while each request keeps its own id, log line and metrics.
 * Never across callers, never mutations, never a cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import {
  eventually,
  startSupergraph,
  testKeyMaterial,
  type TestSupergraph,
} from '@arcadia/testing';
import { createRouter, parseRouterEnv, type Router } from '../src/index.js';
import { capturingLogger, tallySubgraph } from './fixtures.js';
import { metricValue } from './metrics-text.js';

/** How often each label was resolved in the `tally` subgraph (see `tallySubgraph`). */
const executions = new Map<string, number>();

let keys: KeyMaterial;
let supergraph: TestSupergraph;
let signer: ReturnType<typeof createTokenSigner>;
let router: Router;
let url: string;
let metricsUrl: string;
const { logger, lines: logs } = capturingLogger();

beforeAll(async () => {
  keys = await testKeyMaterial();
  signer = createTokenSigner(keys.jwtKeys);
  supergraph = await startSupergraph({ subgraphs: [tallySubgraph(keys, executions)], keys });
  router = await createRouter({
    config: parseRouterEnv({ ...process.env, LOG_LEVEL: 'silent' }),
    supergraphSdl: supergraph.supergraphSdl,
    keys,
    logger,
  });
  url = await router.listen(0, '127.0.0.1');
  metricsUrl = await router.listenMetrics(0);
});
afterAll(async () => {
  await router?.close();
  await supergraph?.stop();
});

const unique = (() => {
  let n = 0;
  return (prefix: string) => `${prefix}-${process.pid}-${++n}`;
})();

interface RawResponse {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** The body as JSON. */
  json: any;
}

async function send(
  query: string,
  options: {
    method?: 'GET' | 'POST';
    token?: string;
    requestId?: string;
    signal?: AbortSignal;
  } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
  };
  const res =
    options.method === 'GET'
      ? await fetch(`${url}?query=${encodeURIComponent(query)}`, {
          // A GET needs a preflight header to pass Apollo's CSRF prevention.
          headers: { ...headers, 'apollo-require-preflight': 'true' },
          ...(options.signal ? { signal: options.signal } : {}),
        })
      : await fetch(url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ query }),
          ...(options.signal ? { signal: options.signal } : {}),
        });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: JSON.parse(bytes.toString()) };
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await (await fetch(metricsUrl)).text(), name, labels);
}

async function tokenOf(userId: string) {
  const { token } = await signer.sign(
    { userId, roles: ['USER'], scopes: [], sessionId: `session-${userId}` },
    60,
  );
  return token;
}

describe('in-flight sharing of HTTP responses', () => {
  it('answers concurrent identical anonymous queries with one execution and the same bytes, each request keeping its own id, log line and metrics', async () => {
    const label = unique('same');
    const operation = `Bulk${process.pid}`;
    const query = `query ${operation} { bulk(label: "${label}", ms: 300) }`;
    const shared = await metric('router_deduplicated_responses_total');
    const ids = [1, 2, 3, 4, 5].map(() => unique('req'));

    const responses = await Promise.all(ids.map((requestId) => send(query, { requestId })));

    expect(executions.get(label)).toBe(1);
    const [first] = responses;
    expect(first!.status).toBe(200);
    expect(first!.json.data.bulk).toHaveLength(200);
    for (const [i, res] of responses.entries()) {
      expect(res.status).toBe(200);
      expect(res.bytes.equals(first!.bytes)).toBe(true);
      expect(res.headers.get('content-type')).toBe(first!.headers.get('content-type'));
      expect(res.headers.get('content-length')).toBe(String(first!.bytes.length));
      expect(res.headers.get('etag')).toBe(first!.headers.get('etag'));
      expect(res.headers.get('x-request-id')).toBe(ids[i]);
    }
    // Four requests were sent the first one's response instead of running Apollo's pipeline.
    expect((await metric('router_deduplicated_responses_total')) - shared).toBe(4);
    await eventually(
      () =>
        ids.every((id) =>
          logs.some(
            (l) =>
              l.msg === 'graphql request' &&
              l.requestId === id &&
              l.operationName === operation &&
              l.operationType === 'query' &&
              l.status === 200 &&
              l.outcome === 'success',
          ),
        ),
      { what: 'one access log line per request, with the operation' },
    );
    expect(await metric('graphql_requests_total', { operation, outcome: 'success' })).toBe(5);
  });

  it('shares GET requests with the same query string', async () => {
    const label = unique('get');
    const query = `{ bulk(label: "${label}", ms: 300) }`;
    const shared = await metric('router_deduplicated_responses_total');

    const responses = await Promise.all([1, 2, 3].map(() => send(query, { method: 'GET' })));

    expect(executions.get(label)).toBe(1);
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.bytes.equals(responses[0]!.bytes)).toBe(true);
    }
    expect((await metric('router_deduplicated_responses_total')) - shared).toBe(2);
  });

  it('never shares between two users, and each gets only their own data', async () => {
    const label = unique('mine');
    const query = `{ mine(label: "${label}", ms: 300) }`;
    const shared = await metric('router_deduplicated_responses_total');
    const [alice, bob] = [await tokenOf('u1'), await tokenOf('u2')];

    const [a1, b1, a2, b2] = await Promise.all([
      send(query, { token: alice }),
      send(query, { token: bob }),
      send(query, { token: alice }),
      send(query, { token: bob }),
    ]);

    // One execution for alice's pair, one for bob's.
    expect(executions.get(label)).toBe(2);
    expect(a1.json.data.mine).toMatch(/^u1:/);
    expect(a2.bytes.equals(a1.bytes)).toBe(true);
    expect(b1.json.data.mine).toMatch(/^u2:/);
    expect(b2.bytes.equals(b1.bytes)).toBe(true);
    expect((await metric('router_deduplicated_responses_total')) - shared).toBe(2);
  });

  it('runs a mutation sent twice at once twice', async () => {
    const label = unique('bump');
    const query = `mutation { bump(label: "${label}", ms: 300) }`;
    const shared = await metric('router_deduplicated_responses_total');

    const responses = await Promise.all([1, 2].map(() => send(query)));

    expect(executions.get(label)).toBe(2);
    expect(responses.map((r) => r.json.data.bump).sort()).toEqual([1, 2]);
    expect((await metric('router_deduplicated_responses_total')) - shared).toBe(0);
  });

  it('keeps nothing once the response is sent: the same request later runs again', async () => {
    const label = unique('again');
    const query = `{ counted(label: "${label}", ms: 20) }`;
    expect((await send(query)).json).toEqual({ data: { counted: 1 } });
    expect((await send(query)).json).toEqual({ data: { counted: 2 } });
  });

  it('answers a refused token among sharers with its own 401, and the others with the shared response', async () => {
    const label = unique('refused');
    const query = `{ counted(label: "${label}", ms: 300) }`;
    const shared = await metric('router_deduplicated_responses_total');
    const requestId = unique('refused-req');

    const [first, refused, second, third] = await Promise.all([
      send(query),
      send(query, { token: 'not-a-token', requestId }),
      send(query),
      send(query),
    ]);

    expect(executions.get(label)).toBe(1);
    for (const res of [first, second, third]) {
      expect(res).toMatchObject({ status: 200, json: { data: { counted: 1 } } });
    }
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(refused.headers.get('x-request-id')).toBe(requestId);
    expect(refused.json).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(refused.json.data).toBeUndefined();
    expect((await metric('router_deduplicated_responses_total')) - shared).toBe(2);
  });

  it('answers the requests waiting on a leader whose client left', async () => {
    const label = unique('left');
    const query = `{ counted(label: "${label}", ms: 300) }`;
    const leaving = new AbortController();
    const leader = send(query, { signal: leaving.signal }).catch((error: unknown) => error);
    await eventually(() => executions.get(label) === 1, { what: 'the leader executing' });

    const waiting = [1, 2].map(() => send(query));
    leaving.abort();

    expect(await leader).toBeInstanceOf(Error);
    for (const res of await Promise.all(waiting)) {
      expect(res).toMatchObject({ status: 200, json: { data: { counted: expect.any(Number) } } });
    }
  });
});
