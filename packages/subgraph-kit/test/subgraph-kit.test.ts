import { createClient, GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
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
      caller: String!
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
      caller: {
        subscribe: async function* (_: unknown, __: unknown, ctx: BaseContext) {
          yield { caller: ctx.caller.userId ?? 'anonymous' };
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

type Caller = Parameters<ReturnType<typeof createCallerSigner>>[0];
const sign = (caller: Caller, query: string, signSecrets = secrets, audience = 'kit') =>
  createCallerSigner(signSecrets)(caller, { audience, request: { query } });

async function post(query: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: any[] } };
}

/** Opens a graphql-ws socket with `header`; resolves to how the server closed it. */
function socketClosed(header: string, onAck?: () => void) {
  return new Promise<{ code: number; reason: string }>((resolve, reject) => {
    const socket = new WebSocket(url.replace('http', 'ws'), GRAPHQL_TRANSPORT_WS_PROTOCOL);
    socket.on('open', () =>
      socket.send(
        JSON.stringify({ type: MessageType.ConnectionInit, payload: { [CALLER_HEADER]: header } }),
      ),
    );
    socket.on('message', (data: Buffer) => {
      if (
        (JSON.parse(data.toString()) as { type: MessageType }).type === MessageType.ConnectionAck
      ) {
        onAck?.();
      }
    });
    socket.on('error', reject);
    socket.on('close', (code: number, reason: Buffer) =>
      resolve({ code, reason: reason.toString() }),
    );
  });
}

const alice = { userId: 'u42', roles: ['USER'] as const, scopes: [] };

describe('subgraph kit', () => {
  it('answers a request signed by the router with the caller it carries', async () => {
    const { body } = await post('{ whoami }', { [CALLER_HEADER]: await sign(alice, '{ whoami }') });
    expect(body.data).toEqual({ whoami: 'u42' });
  });

  it('refuses an unsigned request and a forged signature', async () => {
    const unsigned = await post('{ whoami }');
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    const admin = { userId: 'admin', roles: ['ADMIN'] as const, scopes: [] };
    const forged = await sign(admin, '{ whoami }', ['not-the-secret']);
    const refused = await post('{ whoami }', { [CALLER_HEADER]: forged });
    expect(refused.status).toBe(401);
    expect(refused.body.data).toBeUndefined();
  });

  it('refuses a captured header replayed with another request or sent to another subgraph', async () => {
    const captured = await sign(alice, '{ whoami }');
    // The positive control: the request it was signed for.
    expect((await post('{ whoami }', { [CALLER_HEADER]: captured })).body.data).toEqual({
      whoami: 'u42',
    });
    const replayed = await post('{ boom }', { [CALLER_HEADER]: captured });
    expect(replayed.status).toBe(401);
    expect(replayed.body.errors?.[0].extensions.reason).toBe('BAD_SIGNATURE');
    const elsewhere = await sign(alice, '{ whoami }', secrets, 'accounts');
    const misdirected = await post('{ whoami }', { [CALLER_HEADER]: elsewhere });
    expect(misdirected.status).toBe(401);
    expect(misdirected.body.errors?.[0].extensions.reason).toBe('BAD_SIGNATURE');
  });

  it('answers a batch from the router, each operation as the caller signed into it', async () => {
    const signer = createCallerSigner(secrets);
    const operation = async (userId: string, signedQuery = '{ whoami }') => ({
      query: '{ whoami }',
      extensions: {
        [CALLER_HEADER]: await signer(
          { userId, roles: [], scopes: [] },
          { audience: 'kit', method: 'POST', request: { query: signedQuery } },
        ),
      },
    });
    const batch = [
      await operation('alice'),
      await operation('mallory', '{ boom }'),
      { query: '{ whoami }' },
      await operation('bob'),
    ];
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(200);
    const answers = (await res.json()) as { data?: unknown; errors?: any[] }[];
    expect(answers.map((a) => a.data ?? a.errors?.[0].extensions.reason)).toEqual([
      { whoami: 'alice' },
      // Signed for another operation, or not signed: refused in its place only.
      'BAD_SIGNATURE',
      'UNSIGNED',
      { whoami: 'bob' },
    ]);
  });

  it('masks unexpected errors', async () => {
    const header = await sign({ userId: null, roles: [], scopes: [] }, '{ boom }');
    const { body } = await post('{ boom }', { [CALLER_HEADER]: header });
    expect(JSON.stringify(body)).not.toMatch(/hunter2|db\.internal/);
    expect(body.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('serves subscriptions over graphql-ws on the same port, signed', async () => {
    const header = await createCallerSigner(secrets)(
      { userId: 'u1', roles: [], scopes: [] },
      { audience: 'kit', connection: true },
    );
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

  it('runs each operation on a shared socket as the caller signed into it, and refuses a forged one', async () => {
    const signer = createCallerSigner(secrets);
    const socketHeader = await signer(
      { userId: null, roles: [], scopes: [] },
      { audience: 'kit', connection: true },
    );
    const client = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { [CALLER_HEADER]: socketHeader },
    });
    const query = 'subscription { caller }';
    const asCaller = async (extensions: Record<string, unknown> | undefined) => {
      const seen: unknown[] = [];
      for await (const result of client.iterate({ query, ...(extensions ? { extensions } : {}) })) {
        seen.push(result.data?.caller ?? result.errors?.[0]?.extensions?.reason);
      }
      return seen;
    };
    const signedFor = (userId: string, forQuery = query) =>
      signer(
        { userId, roles: [], scopes: [] },
        { audience: 'kit', method: 'WS', request: { query: forQuery } },
      );
    const [alice, bob, bare] = await Promise.all([
      asCaller({ [CALLER_HEADER]: await signedFor('alice') }),
      asCaller({ [CALLER_HEADER]: await signedFor('bob') }),
      asCaller(undefined),
    ]);
    expect([alice, bob, bare]).toEqual([['alice'], ['bob'], ['anonymous']]);
    // Signed for another operation, or for HTTP: refused, and the socket stays open.
    const forged = await asCaller({ [CALLER_HEADER]: await signedFor('mallory', '{ whoami }') })
      .then(() => 'accepted')
      .catch((errors: { extensions?: { reason?: string } }[]) => errors[0]?.extensions?.reason);
    expect(forged).toBe('BAD_SIGNATURE');
    expect(await asCaller({ [CALLER_HEADER]: await signedFor('carol') })).toEqual(['carol']);
    await client.dispose();
  });

  it('closes a subscription socket when its caller signature expires', async () => {
    const header = await createCallerSigner(secrets, { connectionTtlSeconds: 1 })(alice, {
      audience: 'kit',
      connection: true,
    });
    let openedAt = 0;
    const closed = await socketClosed(header, () => (openedAt = Date.now()));
    // It was admitted (connected), then closed at expiry: within the second it was signed for.
    expect(openedAt).toBeGreaterThan(0);
    expect(closed).toEqual({ code: 4401, reason: 'Caller signature expired' });
    expect(Date.now() - openedAt).toBeLessThan(1_500);
  });

  it('refuses a subscription socket opened with a request signature', async () => {
    const closed = await socketClosed(await sign(alice, '{ whoami }'));
    expect(closed.code).toBe(4403);
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
