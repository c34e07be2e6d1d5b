/**
 * Cross-request subgraph fetch batching (SUBGRAPH_BATCH_MAX): the fetches a
 * subgraph gets in one turn of the router's event loop, from different
 * client operations, go as one POST of an array, each operation verified
 * with its own caller and request id; a lone fetch goes as a plain POST.
 *
 * Two fixture subgraphs: `gate` answers `gate(key, size)` only once `size`
 * operations asked for that key, all at once, so the entity fetches that
 * follow (to `vault`) are made by the router at about the same moment;
 * `vault` resolves `Pass.holder` from the verified caller and records
 * every HTTP request it gets. Whether the router's fetches of different
 * operations land in the same turn still depends on the scheduler, so the
 * batching cases repeat a round until a batch is seen (and fail loudly,
 * with what was seen, when none is).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { gql } from 'graphql-tag';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';
import { freePort, startSupergraph, testKeyMaterial, type TestSupergraph } from '@arcadia/testing';
import { createRouter, parseRouterEnv, type Router } from '../src/index.js';
import { accountsSubgraph, postJson } from './fixtures.js';
import { metricValue } from './metrics-text.js';

/** One operation of a request `vault` received, as sent. */
interface SentOperation {
  query?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** One HTTP request `vault` received on /graphql. */
interface VaultRequest {
  /** Whether the body was an array (a batch). */
  batched: boolean;
  /** Over the kit's body limit: left unread, refused by the kit (413). */
  oversized: boolean;
  operations: SentOperation[];
}

/** The kit's default body limit (`1mb` to body-parser). */
const VAULT_BODY_LIMIT = 1024 * 1024;

/** Every POST `vault` received, in order. */
const vaultRequests: VaultRequest[] = [];

/** Operations waiting at the gate, per key, released together when complete. */
const waiting = new Map<string, { size: number; release: (() => void)[] }>();

/** Resolves once `size` calls for `key` arrived; all of them in the same tick. */
function passGate(key: string, size: number): Promise<void> {
  return new Promise((resolve) => {
    const gate = waiting.get(key) ?? { size, release: [] };
    waiting.set(key, gate);
    gate.release.push(resolve);
    if (gate.release.length >= gate.size) {
      waiting.delete(key);
      for (const release of gate.release) release();
    }
  });
}

function gateSubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'gate',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        "Answers once size operations asked for this key."
        gate(key: String!, size: Int!): Pass!
        "Like gate, with count passes whose keys are pad characters long."
        passes(key: String!, size: Int!, count: Int!, pad: Int!): [Pass!]!
      }
      type Pass @key(fields: "key") {
        key: String!
      }
    `,
    resolvers: {
      Query: {
        gate: async (_: unknown, args: { key: string; size: number }) => {
          await passGate(args.key, args.size);
          return { key: args.key };
        },
        passes: async (
          _: unknown,
          args: { key: string; size: number; count: number; pad: number },
        ) => {
          await passGate(args.key, args.size);
          const pad = 'x'.repeat(args.pad);
          return Array.from({ length: args.count }, (_, i) => ({ key: `${args.key}:${i}:${pad}` }));
        },
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('gate', 'silent'),
    context: (base) => base,
  });
}

/** `Pass.holder`: the caller and request id `vault` verified for the fetch. */
function vaultSubgraph(keys: KeyMaterial): SubgraphServer {
  const server = createSubgraphServer<BaseContext>({
    name: 'vault',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        "The caller's own secret."
        mySecret: String
      }
      type Pass @key(fields: "key") {
        key: String!
        holder: Holder
      }
      type Holder {
        userId: String
        requestId: String!
        secret: String
      }
    `,
    resolvers: {
      Query: {
        mySecret: (_: unknown, __: unknown, ctx: BaseContext) =>
          ctx.caller.userId ? `secret-of-${ctx.caller.userId}` : null,
      },
      Pass: {
        __resolveReference: (ref: { key: string }) => ref,
        holder: (_: unknown, __: unknown, ctx: BaseContext) => ({
          userId: ctx.caller.userId,
          requestId: ctx.requestId,
          secret: ctx.caller.userId ? `secret-of-${ctx.caller.userId}` : null,
        }),
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('vault', 'silent'),
    context: (base) => base,
  });
  // Mounted before the kit's /graphql (mounted on listen). The body parsed
  // here is the one the kit reads (body-parser skips a parsed request), with
  // the kit's own limit; a larger body is left to the kit, which refuses it.
  const parse = express.json({ limit: VAULT_BODY_LIMIT });
  server.app.use('/graphql', (req, res, next) => {
    if (req.method !== 'POST') return next();
    if (Number(req.headers['content-length'] ?? 0) > VAULT_BODY_LIMIT) {
      vaultRequests.push({ batched: false, oversized: true, operations: [] });
      return next();
    }
    parse(req, res, (error?: unknown) => {
      if (error) return next(error);
      const body = req.body as SentOperation | SentOperation[];
      vaultRequests.push({
        batched: Array.isArray(body),
        oversized: false,
        operations: Array.isArray(body) ? body : [body],
      });
      next();
    });
  });
  return server;
}

let keys: KeyMaterial;
let supergraph: TestSupergraph;
let signer: ReturnType<typeof createTokenSigner>;
/** A router with the default SUBGRAPH_BATCH_MAX, its metrics at `metricsUrl`. */
let router: Router;
let url: string;
let metricsUrl: string;
/** The same subgraphs with SUBGRAPH_BATCH_MAX=1. */
let unbatched: Router;
let unbatchedUrl: string;
/** `vault` pointed at a port nobody listens on. */
let vaultDown: Router;
let vaultDownUrl: string;
let vaultDownMetricsUrl: string;

beforeAll(async () => {
  keys = await testKeyMaterial();
  signer = createTokenSigner(keys.jwtKeys);
  supergraph = await startSupergraph({
    subgraphs: [gateSubgraph(keys), vaultSubgraph(keys), accountsSubgraph(keys)],
    keys,
  });
  const start = async (overrides: Record<string, string>) => {
    const config = parseRouterEnv({ ...process.env, LOG_LEVEL: 'silent', ...overrides });
    const one = await createRouter({
      config,
      supergraphSdl: supergraph.supergraphSdl,
      keys,
      logger: createLogger('router', 'silent'),
    });
    return { router: one, url: await one.listen(0, '127.0.0.1') };
  };
  ({ router, url } = await start({}));
  metricsUrl = await router.listenMetrics(0);
  ({ router: unbatched, url: unbatchedUrl } = await start({ SUBGRAPH_BATCH_MAX: '1' }));
  const closedPort = await freePort();
  ({ router: vaultDown, url: vaultDownUrl } = await start({
    SUBGRAPH_URLS: `vault=http://127.0.0.1:${closedPort}/graphql`,
  }));
  vaultDownMetricsUrl = await vaultDown.listenMetrics(0);
});
afterAll(async () => {
  await vaultDown?.close();
  await unbatched?.close();
  await router?.close();
  await supergraph?.stop();
});

const unique = (() => {
  let n = 0;
  return (prefix: string) => `${prefix}-${process.pid}-${++n}`;
})();

async function tokenOf(userId: string): Promise<string> {
  const { token } = await signer.sign(
    { userId, roles: ['USER'], scopes: [], sessionId: `session-${userId}` },
    60,
  );
  return token;
}

const users = ['u1', 'u2', 'u3', 'u4'];

interface HolderAnswer {
  status: number;
  headers: Headers;
  body: {
    data?: { gate: { key: string; holder: Record<string, unknown> | null } } | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

/**
 * Each user in `users` asks the router at `target`, at once, for the holder
 * of a pass through the same gate: one operation per user (different
 * callers are never deduplicated), with request id `<key>-<user>`.
 */
async function gatedRound(target: string, key: string): Promise<HolderAnswer[]> {
  const tokens = await Promise.all(users.map(tokenOf));
  const query = `query Holder($key: String!, $size: Int!) {
    gate(key: $key, size: $size) { key holder { userId requestId secret } }
  }`;
  return Promise.all(
    users.map(
      (user, i) =>
        postJson(
          target,
          { query, variables: { key, size: users.length } },
          { authorization: `Bearer ${tokens[i]!}`, 'x-request-id': `${key}-${user}` },
        ) as Promise<HolderAnswer>,
    ),
  );
}

/** The requests `vault` got for the gate key `key` (its representations carry it). */
function vaultRequestsFor(key: string): VaultRequest[] {
  return vaultRequests.filter((r) => r.operations.some((op) => JSON.stringify(op).includes(key)));
}

const ROUNDS = 10;

/**
 * Runs `round` with a fresh key until `batched(key)` holds: the router's
 * fetches of different operations coincide only when the scheduler lets
 * them, which a loaded machine may not every time. Fails with what the
 * last round saw.
 */
async function untilBatched(
  round: (key: string) => Promise<void>,
  batched: (key: string) => boolean | Promise<boolean>,
  describeRound: (key: string) => string | Promise<string>,
): Promise<string> {
  let key = '';
  for (let attempt = 0; attempt < ROUNDS; attempt++) {
    key = unique('pass');
    await round(key);
    if (await batched(key)) return key;
  }
  throw new Error(`no batch in ${ROUNDS} rounds; the last one: ${await describeRound(key)}`);
}

const sizes = (key: string) =>
  JSON.stringify(vaultRequestsFor(key).map((r) => (r.batched ? r.operations.length : 'plain')));

/** Each answer is its own user's, whole. */
function expectOwnHolders(answers: HolderAnswer[], key: string): void {
  for (const [i, answer] of answers.entries()) {
    const user = users[i]!;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      data: {
        gate: {
          key,
          holder: { userId: user, requestId: `${key}-${user}`, secret: `secret-of-${user}` },
        },
      },
    });
  }
}

describe('cross-request batching of subgraph fetches', () => {
  it('sends concurrent queries of different users to the same subgraph as one batched POST, each user getting only their own data', async () => {
    let answers: HolderAnswer[] = [];
    const key = await untilBatched(
      async (k) => {
        answers = await gatedRound(url, k);
        // Every round, batched or not, answers each user with their own data.
        expectOwnHolders(answers, k);
      },
      (k) => vaultRequestsFor(k).some((r) => r.batched && r.operations.length > 1),
      sizes,
    );
    const requests = vaultRequestsFor(key);
    // Every operation reached vault exactly once, in fewer HTTP requests than operations.
    expect(requests.reduce((n, r) => n + r.operations.length, 0)).toBe(users.length);
    expect(requests.length).toBeLessThan(users.length);
    for (const request of requests.filter((r) => r.batched)) {
      expect(request.operations.length).toBeGreaterThan(1);
    }
  });

  it('sends a single query as a plain, non-array POST', async () => {
    const key = unique('lone');
    const token = await tokenOf('u1');
    const res = await postJson(
      url,
      { query: `{ gate(key: "${key}", size: 1) { holder { userId } } }` },
      { authorization: `Bearer ${token}` },
    );
    expect(res.body).toEqual({ data: { gate: { holder: { userId: 'u1' } } } });
    const requests = vaultRequestsFor(key);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.batched).toBe(false);
    expect(requests[0]!.operations[0]!.extensions).toBeUndefined();
  });

  it("verifies each batched operation with its own caller, and gives each its own client request's id", async () => {
    let answers: HolderAnswer[] = [];
    const key = await untilBatched(
      async (k) => {
        answers = await gatedRound(url, k);
      },
      (k) => vaultRequestsFor(k).some((r) => r.batched && r.operations.length > 1),
      sizes,
    );
    // What the vault resolver saw for each operation, via each client's answer.
    expectOwnHolders(answers, key);
    for (const [i, answer] of answers.entries()) {
      expect(answer.headers.get('x-request-id')).toBe(`${key}-${users[i]!}`);
    }
    // And what the router put in the batch: each operation its own signed caller and id.
    const batched = vaultRequestsFor(key).flatMap((r) => (r.batched ? r.operations : []));
    expect(batched.length).toBeGreaterThan(1);
    const ids = batched.map((op) => op.extensions?.['x-request-id']);
    const callers = batched.map((op) => op.extensions?.['x-arcadia-caller']);
    expect(new Set(ids).size).toBe(batched.length);
    for (const id of ids) expect(users.map((u) => `${key}-${u}`)).toContain(id);
    expect(new Set(callers).size).toBe(batched.length);
    for (const caller of callers) expect(caller).toEqual(expect.any(String));
  });

  it('sends every fetch on its own when SUBGRAPH_BATCH_MAX is 1', async () => {
    // Several rounds: one without a batch could be the scheduler's doing.
    for (let round = 0; round < 3; round++) {
      const key = unique('unbatched');
      const answers = await gatedRound(unbatchedUrl, key);
      expectOwnHolders(answers, key);
      const requests = vaultRequestsFor(key);
      expect(requests).toHaveLength(users.length);
      for (const request of requests) {
        expect(request.batched).toBe(false);
        expect(request.operations).toHaveLength(1);
      }
    }
  });

  it('answers every operation of a batch with SERVICE_UNAVAILABLE naming the service when the subgraph is down, and nothing else breaks', async () => {
    const batchesOfSeveral = async () => {
      const text = await (await fetch(vaultDownMetricsUrl)).text();
      const labels = { service: 'vault' };
      return (
        metricValue(text, 'router_subgraph_batch_size_count', labels) -
        metricValue(text, 'router_subgraph_batch_size_bucket', { ...labels, le: '1' })
      );
    };
    let before = 0;
    await untilBatched(
      async (k) => {
        before = await batchesOfSeveral();
        const answers = await gatedRound(vaultDownUrl, k);
        for (const answer of answers) {
          expect(answer.status).toBe(200);
          // The gate's data stays; only the vault's part is missing.
          expect(answer.body.data).toEqual({ gate: { key: k, holder: null } });
          expect(answer.body.errors).toEqual([
            expect.objectContaining({
              message: 'The vault service is unavailable.',
              extensions: expect.objectContaining({
                code: 'SERVICE_UNAVAILABLE',
                serviceName: 'vault',
              }),
            }),
          ]);
          expect(JSON.stringify(answer.body)).not.toContain('127.0.0.1');
        }
      },
      // This round's vault fetches went as (at least) one batch of several.
      async () => (await batchesOfSeveral()) > before,
      async () => `${(await batchesOfSeveral()) - before} batches of several`,
    );
    // The router still serves everything else.
    const other = await postJson(vaultDownUrl, { query: '{ user(id: "u1") { handle } }' });
    expect(other.body).toEqual({ data: { user: { handle: 'alice' } } });
  });

  it('answers fetches that each fit the subgraph body limit even when together they exceed it', async () => {
    // Each user's entity fetch carries ~400 kB of representations, under
    // vault's 1 MB body limit (SUBGRAPH_BATCH_MAX=1 answers all of them); four
    // of them in one batch are not: the kit refuses the batch with 413 and
    // every operation of it gets "Unexpected error." (the router's masked
    // "subgraph vault answered HTTP 413"). Fails until the batcher bounds a
    // batch's bytes (or sends what does not fit on its own).
    const count = 1_600;
    const pad = 240;
    const tokens = await Promise.all(users.map(tokenOf));
    const key = unique('big');
    const query = `query Big($key: String!, $size: Int!, $count: Int!, $pad: Int!) {
      passes(key: $key, size: $size, count: $count, pad: $pad) { holder { userId } }
    }`;
    const answers = await Promise.all(
      users.map((_, i) =>
        postJson(
          url,
          { query, variables: { key, size: users.length, count, pad } },
          { authorization: `Bearer ${tokens[i]!}` },
        ),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.body.errors).toBeUndefined();
      const passes = (answer.body as { data: { passes: { holder: { userId: string } }[] } }).data
        .passes;
      expect(passes).toHaveLength(count);
      expect(passes.every((p) => p.holder.userId === users[i])).toBe(true);
    }
  });

  it('exposes router_subgraph_batch_size on the metrics port with observations', async () => {
    const labels = { service: 'vault' };
    const read = async () => {
      const text = await (await fetch(metricsUrl)).text();
      expect(text).toContain('# TYPE router_subgraph_batch_size histogram');
      return {
        count: metricValue(text, 'router_subgraph_batch_size_count', labels),
        sum: metricValue(text, 'router_subgraph_batch_size_sum', labels),
        alone: metricValue(text, 'router_subgraph_batch_size_bucket', { ...labels, le: '1' }),
      };
    };
    const before = await read();
    // One lone fetch, then rounds of concurrent ones until one went as a batch.
    await postJson(
      url,
      { query: `{ gate(key: "${unique('alone')}", size: 1) { holder { userId } } }` },
      { authorization: `Bearer ${await tokenOf('u1')}` },
    );
    await untilBatched(
      async (k) => {
        await gatedRound(url, k);
      },
      (k) => vaultRequestsFor(k).some((r) => r.batched),
      sizes,
    );
    const after = await read();
    // Each HTTP request to vault is one observation of its number of fetches.
    expect(after.alone - before.alone).toBeGreaterThanOrEqual(1);
    expect(after.count - before.count).toBeGreaterThan(after.alone - before.alone);
    expect(after.sum - before.sum).toBeGreaterThan(after.count - before.count);
  });
});
