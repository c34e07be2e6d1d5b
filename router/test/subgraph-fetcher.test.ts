/**
 * The subgraph fetcher hands a 2xx reply to the gateway as it came (one
 * decode, one parse, by the gateway), yet a body that never arrives in full
 * is still SERVICE_UNAVAILABLE naming the service, within the timeout.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ANONYMOUS, createCallerSigner } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createRouterMetrics } from '../src/metrics.js';
import { createContextBuilder, newRequestRecord } from '../src/request-context.js';
import { CallerForwardingDataSource, createSubgraphFetcher } from '../src/subgraph-data-source.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handle: Handler = (_req, res) => res.end();
const client = new Agent();

beforeAll(async () => {
  server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  server.closeAllConnections();
});
afterAll(async () => {
  await client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const TIMEOUT_MS = 300;

function fetcher() {
  return createSubgraphFetcher({
    serviceName: 'inventory',
    timeoutMs: TIMEOUT_MS,
    metrics: createRouterMetrics(),
    logger: createLogger('router', 'silent'),
    dispatcher: client,
  });
}

/** A health check through the data source: the gateway's own reading of the reply. */
function processThroughGateway(path = '/graphql') {
  const dataSource = new CallerForwardingDataSource(
    { name: 'inventory', url: `${base}${path}`, fetcher: fetcher() },
    createCallerSigner(['a-test-secret-of-enough-length-for-hs256']),
  );
  return dataSource.process({
    kind: 'health check',
    request: { query: '{ __typename }' },
    context: {},
  } as unknown as Parameters<CallerForwardingDataSource['process']>[0]);
}

const serviceUnavailable = {
  extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: 'inventory' },
};

describe('the subgraph fetcher', () => {
  it('hands over the original response of a 2xx reply without reading its body', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":{"__typename":');
      void released.then(() => res.end('"Query"}}'));
    };
    const url = `${base}/graphql`;
    const pending = fetcher()(url, { method: 'POST', body: '{}', headers: {} });
    // The body's end is held back: a fetcher that reads the body first never resolves.
    const response = await Promise.race([
      pending,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the fetcher waited for the body')), 2_000),
      ),
    ]);
    expect(response.url).toBe(url);
    release();
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers SERVICE_UNAVAILABLE naming the service when the connection resets mid-body', async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"data":{"__typename":', () => res.socket?.destroy());
    };
    await expect(processThroughGateway()).rejects.toMatchObject(serviceUnavailable);
  });

  it('answers SERVICE_UNAVAILABLE within the timeout when the body stalls', async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":{"__typename":');
    };
    const started = performance.now();
    await expect(processThroughGateway()).rejects.toMatchObject(serviceUnavailable);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
  });

  it('does not follow redirects: the caller header is signed for the subgraph alone', async () => {
    const paths: string[] = [];
    handle = (req, res) => {
      paths.push(req.url!);
      if (req.url === '/graphql') {
        res.writeHead(307, { location: '/elsewhere' }).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data":{"__typename":"Query"}}');
      }
    };
    await expect(processThroughGateway()).rejects.toThrow('answered HTTP 307');
    expect(paths).toEqual(['/graphql']);
  });

  it('still passes on a GraphQL body of a non-2xx reply as a normal response', async () => {
    handle = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end('{"errors":[{"message":"Slow down.","extensions":{"code":"RATE_LIMITED"}}]}');
    };
    await expect(processThroughGateway()).resolves.toMatchObject({
      errors: [{ message: 'Slow down.', extensions: { code: 'RATE_LIMITED' } }],
    });
  });
});

describe('the data source with deduplication', () => {
  const signer = createCallerSigner(['a-test-secret-of-enough-length-for-hs256']);
  const buildContext = createContextBuilder(signer);

  /** A subgraph fetch of a client's query, as the gateway's executor makes it. */
  function queryFetch(operation: 'query' | 'mutation') {
    const restrict = vi.fn();
    const context = buildContext(ANONYMOUS, newRequestRecord(`req-${Math.random()}`));
    const options = {
      kind: 'incoming operation',
      request: { query: '{ items { id } }', variables: { first: 2 } },
      incomingRequestContext: { operation: { operation }, overallCachePolicy: { restrict } },
      context,
    } as unknown as Parameters<CallerForwardingDataSource['process']>[0];
    return { options, restrict };
  }

  it('sends identical concurrent query fetches once, giving each its own data and no cache policy from a reply it did not see', async () => {
    let requests = 0;
    handle = (_req, res) => {
      requests++;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
        res.end('{"data":{"items":[{"id":"1"}]}}');
      }, 100);
    };
    let shared = 0;
    const dataSource = new CallerForwardingDataSource(
      {
        name: 'inventory',
        url: `${base}/graphql`,
        fetcher: fetcher(),
        deduplicate: { onShared: () => shared++ },
      },
      signer,
    );
    const first = queryFetch('query');
    const second = queryFetch('query');
    const [a, b] = await Promise.all([
      dataSource.process(first.options),
      dataSource.process(second.options),
    ]);
    expect({ requests, shared }).toEqual({ requests: 1, shared: 1 });
    expect(a.data).toEqual({ items: [{ id: '1' }] });
    expect(b.data).toEqual(a.data);
    // The gateway merges into what it gets: one's data must not be the other's.
    expect(b.data).not.toBe(a.data);
    expect(first.restrict).toHaveBeenCalledWith({ maxAge: 60 });
    expect(second.restrict).toHaveBeenCalledWith({ maxAge: 0 });
  });

  it('sends every fetch of a mutation', async () => {
    let requests = 0;
    handle = (_req, res) => {
      requests++;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data":{"items":[]}}');
      }, 50);
    };
    const dataSource = new CallerForwardingDataSource(
      {
        name: 'inventory',
        url: `${base}/graphql`,
        fetcher: fetcher(),
        deduplicate: { onShared: () => {} },
      },
      signer,
    );
    await Promise.all([
      dataSource.process(queryFetch('mutation').options),
      dataSource.process(queryFetch('mutation').options),
    ]);
    expect(requests).toBe(2);
  });
});
