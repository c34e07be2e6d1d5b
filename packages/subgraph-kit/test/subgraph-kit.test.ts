import { createClient } from 'graphql-ws';
import { gql } from 'graphql-tag';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, createCallerSigner } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext } from '../src/index.js';

const secrets = ['kit-secret'];
let ready = true;
const server = createSubgraphServer<BaseContext>({
  name: 'kit',
  typeDefs: gql`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
    type Query {
      whoami: String
      boom: String
    }
    type Subscription {
      ticks(count: Int!): Int!
    }
  `,
  resolvers: {
    Query: {
      whoami: (_: unknown, __: unknown, ctx: BaseContext) => ctx.caller.userId ?? 'anonymous',
      boom: () => {
        throw new Error('password=hunter2 at db.internal:5432');
      },
    },
    Subscription: {
      ticks: {
        subscribe: async function* (_: unknown, args: { count: number }) {
          for (let i = 1; i <= args.count; i++) yield { ticks: i };
        },
      },
    },
  },
  internalSecrets: secrets,
  logger: createLogger('kit', 'silent'),
  context: (base) => base,
  readiness: async () => {
    if (!ready) throw new Error('db down');
  },
});
let url = '';
beforeAll(async () => {
  url = await server.listen(0);
});
afterAll(() => server.close());

async function post(query: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: any[] } };
}

describe('subgraph kit', () => {
  it('answers a request signed by the router with the caller it carries', async () => {
    const header = await createCallerSigner(secrets)({
      userId: 'u42',
      roles: ['USER'],
      scopes: [],
    });
    const { body } = await post('{ whoami }', { [CALLER_HEADER]: header });
    expect(body.data).toEqual({ whoami: 'u42' });
  });

  it('refuses an unsigned request and a forged signature', async () => {
    const unsigned = await post('{ whoami }');
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    const forged = await createCallerSigner(['not-the-secret'])({
      userId: 'admin',
      roles: ['ADMIN'],
      scopes: [],
    });
    const refused = await post('{ whoami }', { [CALLER_HEADER]: forged });
    expect(refused.status).toBe(401);
    expect(refused.body.data).toBeUndefined();
  });

  it('masks unexpected errors', async () => {
    const header = await createCallerSigner(secrets)({ userId: null, roles: [], scopes: [] });
    const { body } = await post('{ boom }', { [CALLER_HEADER]: header });
    expect(JSON.stringify(body)).not.toMatch(/hunter2|db\.internal/);
    expect(body.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('serves subscriptions over graphql-ws on the same port, signed', async () => {
    const header = await createCallerSigner(secrets)({ userId: 'u1', roles: [], scopes: [] });
    const client = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { [CALLER_HEADER]: header },
    });
    const seen: number[] = [];
    for await (const result of client.iterate<{ ticks: number }>({
      query: 'subscription { ticks(count: 3) }',
    })) {
      seen.push(result.data!.ticks);
    }
    expect(seen).toEqual([1, 2, 3]);
    await client.dispose();
  });

  it('reports health and readiness separately', async () => {
    const base = url.replace('/graphql', '');
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    ready = false;
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    ready = true;
  });

  // Last: it takes /metrics off the public port for the rest of the file.
  it('serves /metrics on a loopback port of its own, and then no longer on the public port', async () => {
    const base = url.replace('/graphql', '');
    const metricsUrl = await server.listenMetrics(0);
    expect(new URL(metricsUrl)).toMatchObject({ hostname: '127.0.0.1', pathname: '/metrics' });
    expect(await (await fetch(metricsUrl)).text()).toContain(
      'process_cpu_user_seconds_total{service="kit"}',
    );
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    // The public port still answers the orchestrator's probes.
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
