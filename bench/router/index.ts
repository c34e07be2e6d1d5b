/**
 * Router benchmark: federated queries over HTTP through the Arcadia router,
 * stock @apollo/server + @apollo/gateway and Hive Gateway (plain, and as the
 * public federation gateway benchmark runs it), in one run, each gateway
 * pinned to one core, the same four subgraphs (subgraphs.ts) and load
 * (autocannon) for all. Every response is checked against the answer
 * graphql-js computes from the same data (data.ts); a rep with any bad
 * response is marked failed. Reports requests/s, latency, the gateway's and
 * the subgraphs' CPU per request and peak RSS. See bench/README.md.
 *
 *   npm run bench -- router [--duration 10] [--queries large,mid,small] [--gateways …]
 */
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import {
  ANONYMOUS,
  CALLER_HEADER,
  createCallerSigner,
  loadKeyMaterial,
  type CallerSigner,
} from '@arcadia/auth';
import { composeSupergraph } from '@arcadia/schema';
import { Options } from '../lib/args.js';
import { arcadiaRouterCommand, hiveGatewayArgs } from '../lib/gateways.js';
import { ask, nextMessage } from '../lib/ipc.js';
import { ProcSampler, spawnChild, systemCpuSampler, waitFor, type Child } from '../lib/proc.js';
import { BenchRun, freePort, log, repoRoot } from '../lib/run.js';
import { markdownTable, round } from '../lib/stats.js';
import { expectedResponse } from './data.js';
import {
  FIXED_TAG,
  QUERIES,
  QUERY_NAMES,
  freshTag,
  type BenchQuery,
  type QueryName,
} from './queries.js';
import { SUBGRAPHS, subgraphSdls, type SubgraphName } from './subgraphs.js';

export const description =
  'federated queries over HTTP: Arcadia router vs stock @apollo/gateway vs Hive Gateway (req/s, latency, CPU/request, RSS)';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The gateways, and `subgraph`: the small query sent straight to the
 * accounts subgraph (signed as a gateway would), the baseline of the
 * router's overhead.
 */
const TARGETS = ['arcadia', 'apollo', 'hive', 'hive-bench', 'subgraph'] as const;
type Target = (typeof TARGETS)[number];
const MODES = ['identical', 'distinct'] as const;
type Mode = (typeof MODES)[number];

const TARGET_LABELS: Record<Target, string> = {
  arcadia: 'Arcadia router',
  apollo: 'stock @apollo/server + @apollo/gateway',
  hive: 'Hive Gateway, plain',
  'hive-bench': 'Hive Gateway, --jit + inbound in-flight deduplication',
  subgraph: 'straight to the accounts subgraph (small query only)',
};

const spec = {
  duration: { description: 'measured seconds per gateway × query × mode × rep', default: '10' },
  warmup: {
    description: 'seconds of unmeasured load before each measured window',
    default: '2',
  },
  reps: {
    description: 'reps per gateway; the gateway order alternates (reversed every other rep)',
    default: '2',
  },
  connections: { description: 'concurrent connections (autocannon)', default: '50' },
  queries: { description: `queries (${QUERY_NAMES.join(',')})`, default: QUERY_NAMES.join(',') },
  modes: {
    description: `identical (one body for all requests) and/or distinct (a new $tag per request)`,
    default: MODES.join(','),
  },
  gateways: {
    description: `gateways, in the order of the first rep (${TARGETS.join(',')})`,
    default: TARGETS.join(','),
  },
  'subgraph-cache': {
    description:
      'queries for which the subgraphs answer repeated fetches (same body but for $tag) from a cache, so they keep up; `none` for none',
    default: 'large,mid',
  },
  pin: {
    description:
      '`gateway`: gateway on CPU 0, subgraphs, load and harness on the others; `none`: no pinning',
    default: 'gateway',
  },
  profile: {
    description: 'write a V8 CPU profile of each gateway process into the run’s log folder',
    flag: true,
  },
  'redis-url': {
    description: 'Redis for the router (sessions, APQ)',
    default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  },
};

interface SubgraphStats {
  requests: Record<SubgraphName, number>;
  cacheHits: number;
}

/** The subgraphs' request counters; with `cache`, first turns their response cache on or off. */
async function subgraphStats(subgraphs: Child, cache?: boolean): Promise<SubgraphStats> {
  return ask<SubgraphStats>(
    subgraphs,
    cache === undefined ? { type: 'stats' } : { type: 'cache', cache },
    'stats',
    10_000,
  );
}

const totalRequests = (s: SubgraphStats) => SUBGRAPHS.reduce((n, name) => n + s.requests[name], 0);

// ---------------------------------------------------------------------------
// Correctness

/**
 * Checks every response of one target and query: status 200 and a body
 * that, with the request's tag put back to {@link FIXED_TAG}, is byte for
 * byte the reference (the target's own first answer, which was checked
 * field by field against graphql-js's); a body that differs in bytes is
 * parsed and compared field by field before it counts as wrong (a gateway
 * may order keys differently between answers, none did here).
 */
class ResponseChecker {
  good = 0;
  bad = 0;
  /** Bad responses by reason, e.g. `status 502`, `errors: …`, `wrong data`. */
  readonly reasons: Record<string, number> = {};
  sample: string | undefined;

  constructor(
    readonly query: BenchQuery,
    private readonly reference: string,
  ) {}

  check(status: number, body: string, tag: string): boolean {
    const normalised = tag === FIXED_TAG ? body : body.replaceAll(tag, FIXED_TAG);
    if (status === 200 && normalised === this.reference) {
      this.good++;
      return true;
    }
    const problem = status !== 200 ? `status ${status}` : answerProblem(this.query, tag, body);
    if (!problem) {
      this.good++;
      return true;
    }
    this.bad++;
    this.reasons[problem] = (this.reasons[problem] ?? 0) + 1;
    this.sample ??= body.slice(0, 500);
    return false;
  }
}

/** Why `body` is not the right answer to `query` with `tag`, or undefined when it is. */
function answerProblem(query: BenchQuery, tag: string, body: string): string | undefined {
  let parsed: { data?: unknown; errors?: { message?: string }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return 'not JSON';
  }
  if (parsed.errors?.length) return `errors: ${parsed.errors[0]?.message?.slice(0, 120)}`;
  const expected = expectedResponse(query.query, { tag }) as { data: unknown };
  return isDeepStrictEqual(parsed.data, expected.data) ? undefined : 'wrong data';
}

// ---------------------------------------------------------------------------
// Targets

interface RunContext {
  opts: Options;
  logDir: string;
  homeDir: string;
  supergraphPath: string;
  redisUrl: string;
  runId: string;
  cpus: BenchRun['cpus'];
  subgraphUrls: Record<SubgraphName, string>;
  signCaller: CallerSigner;
  /** Queries for which the subgraphs answer repeated fetches from their cache. */
  subgraphCache: QueryName[];
}

interface Endpoint {
  url: string;
  /** The gateway process (undefined for the straight-to-subgraph baseline). */
  child?: Child;
  /** Extra headers of a request with this body (the subgraph's signed caller). */
  headersFor(body: {
    query: string;
    operationName: string;
    variables: { tag: string };
  }): Promise<Record<string, string>>;
}

const noHeaders = () => Promise.resolve({});

function gatewayCommand(
  target: Exclude<Target, 'subgraph'>,
  ctx: RunContext,
  port: number,
): { args: string[]; env: Record<string, string> } {
  const common = { ARCADIA_HOME: ctx.homeDir, NODE_ENV: 'production' };
  switch (target) {
    case 'arcadia':
      // As users run it: `router/src/main.ts` with its defaults (limits, auth,
      // APQ, metrics, one log line per request at `info`).
      return arcadiaRouterCommand(ctx, port, {
        APQ_REDIS_URL: process.env.APQ_REDIS_URL ?? ctx.redisUrl,
      });
    case 'apollo':
      return {
        args: ['--import', 'tsx', relative(repoRoot, join(here, 'apollo-gateway.ts'))],
        env: { ...common, PORT: String(port), SUPERGRAPH_PATH: ctx.supergraphPath },
      };
    case 'hive':
    case 'hive-bench': {
      return {
        args: [
          ...hiveGatewayArgs(ctx.supergraphPath, port),
          ...(target === 'hive-bench' ? ['--jit'] : []),
        ],
        env: {
          ...common,
          HIVE_LOG_LEVEL: 'warn',
          HIVE_INBOUND_DEDUP: target === 'hive-bench' ? 'yes' : 'no',
        },
      };
    }
  }
}

async function postJson(
  url: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

async function startTarget(target: Target, ctx: RunContext, rep: number): Promise<Endpoint> {
  if (target === 'subgraph') {
    return {
      url: ctx.subgraphUrls.accounts,
      headersFor: async (request) => ({
        [CALLER_HEADER]: await ctx.signCaller(ANONYMOUS, {
          audience: 'accounts',
          method: 'POST',
          request,
        }),
      }),
    };
  }
  const port = await freePort();
  const cmd = gatewayCommand(target, ctx, port);
  if (ctx.opts.flag('profile')) {
    cmd.args.unshift('--cpu-prof', '--cpu-prof-dir', join(ctx.logDir, `${target}-${rep}-profile`));
  }
  const child = spawnChild(`${target}-gateway-rep${rep}`, process.execPath, cmd.args, {
    cwd: repoRoot,
    logDir: ctx.logDir,
    cpus: ctx.cpus.gateway,
    env: cmd.env,
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  // Ready once it answers a query: every gateway here serves POST /graphql.
  await waitFor(
    `${target} to answer`,
    async () => (await postJson(url, { query: '{ __typename }' })).status === 200,
    { timeoutMs: 120_000, child },
  );
  return { url, child, headersFor: noHeaders };
}

/**
 * The quick self-check before a target is measured on a query: its answer
 * with the fixed tag and with a fresh one must equal graphql-js's, field by
 * field. Resolves with the bytes of the first, the reference of the load.
 */
async function selfCheck(
  endpoint: Endpoint,
  query: BenchQuery,
  subgraphs: Child,
): Promise<{ reference: string; fetches: number }> {
  let reference = '';
  let fetches = NaN;
  for (const tag of [FIXED_TAG, freshTag()]) {
    const body = { query: query.query, operationName: query.operationName, variables: { tag } };
    const headers = await endpoint.headersFor(body);
    const before = totalRequests(await subgraphStats(subgraphs));
    const { status, text } = await postJson(endpoint.url, body, headers);
    if (tag !== FIXED_TAG) fetches = totalRequests(await subgraphStats(subgraphs)) - before;
    const problem = status === 200 ? answerProblem(query, tag, text) : `status ${status}`;
    if (problem) {
      throw new Error(
        `self-check of ${query.name} (tag ${tag}) failed: ${problem}: ${text.slice(0, 300)}`,
      );
    }
    if (tag === FIXED_TAG) reference = text;
  }
  return { reference, fetches };
}

// ---------------------------------------------------------------------------
// Load

interface LoadResult {
  target: Target;
  query: QueryName;
  mode: Mode;
  rep: number;
  ok: boolean;
  error?: string;
  seconds: number;
  good: number;
  bad: number;
  badReasons: Record<string, number>;
  badSample?: string;
  /** autocannon's connection errors and timeouts. */
  transportErrors: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  responseBytes: number;
  /** Gateway CPU-seconds per good response, in ms (CPU time of the gateway process ÷ responses). */
  gatewayCpuMsPerRequest: number;
  gatewayCpuPct: number;
  gatewayPeakRssMiB: number;
  /** The four subgraphs' process: CPU ms per good response and CPU %. */
  subgraphCpuMsPerRequest: number;
  subgraphCpuPct: number;
  /**
   * Subgraph requests during the window ÷ good responses: the plan's fetches
   * less what the gateway deduplicated (requests still in flight at the end
   * count too, which inflates it when few responses complete).
   */
  subgraphFetchesPerRequest: number;
  /** Subgraph requests of one request alone (the self-check's): the plan's fetches. */
  planFetches: number;
  /** Whether the subgraphs answered repeated fetches from their response cache. */
  subgraphCache: boolean;
  subgraphCacheHitPct: number;
  loadCpuPct: number;
  /** Busy % of the gateway's core during the window: all of it, the gateway and anything else. */
  gatewayCoreBusyPct: number;
  /** Busy % of the gateway's core in the second before the load, less the gateway's own CPU. */
  coreBusyBeforePct: number;
}

interface SignedPool {
  tags: string[];
  headers: Record<string, string>[];
}

/** Pre-signs `size` distinct-tag requests for the subgraph baseline (autocannon's setup is synchronous). */
async function signPool(endpoint: Endpoint, query: BenchQuery, size: number): Promise<SignedPool> {
  const pool: SignedPool = { tags: [], headers: [] };
  for (let i = 0; i < size; i++) {
    const tag = freshTag();
    pool.tags.push(tag);
    pool.headers.push(
      await endpoint.headersFor({
        query: query.query,
        operationName: query.operationName,
        variables: { tag },
      }),
    );
  }
  return pool;
}

/**
 * One autocannon run of `warmup + duration` seconds; only the responses that
 * complete in the last `duration` seconds are measured (`onWindow` runs when
 * that window starts), so the measured window sees the gateway already
 * loaded. Every response, warm-up included, is checked.
 */
async function load(
  endpoint: Endpoint,
  query: BenchQuery,
  mode: Mode,
  options: { warmup: number; duration: number; connections: number; pool?: SignedPool },
  checkers: { warmup: ResponseChecker; measured: ResponseChecker },
  onWindow: () => void,
): Promise<{ latencies: number[]; result: autocannon.Result; bytes: number }> {
  const { pool } = options;
  const bodyFor = (tag: string) =>
    JSON.stringify({ query: query.query, operationName: query.operationName, variables: { tag } });
  const fixedHeaders = {
    'content-type': 'application/json',
    ...(await endpoint.headersFor({
      query: query.query,
      operationName: query.operationName,
      variables: { tag: FIXED_TAG },
    })),
  };
  let measuring = false;
  const checker = () => (measuring ? checkers.measured : checkers.warmup);
  let poolIndex = 0;
  const latencies: number[] = [];
  let bytes = 0;
  const request: autocannon.Request =
    mode === 'identical'
      ? {
          method: 'POST',
          headers: fixedHeaders,
          body: bodyFor(FIXED_TAG),
          onResponse: (status, body) => void checker().check(status, body, FIXED_TAG),
        }
      : {
          method: 'POST',
          // Runs before each request of a connection (one in flight per connection),
          // so the context holds the tag of the request whose answer comes next.
          setupRequest: (req, context) => {
            let tag: string;
            let headers: Record<string, string> = {};
            if (pool) {
              // The pool is sized for the run; should it run out, tags repeat,
              // which the subgraph (no deduplication) does not notice.
              const i = poolIndex++ % pool.tags.length;
              tag = pool.tags[i]!;
              headers = pool.headers[i]!;
            } else {
              tag = freshTag();
            }
            (context as { tag?: string }).tag = tag;
            return {
              ...req,
              headers: { 'content-type': 'application/json', ...headers },
              body: bodyFor(tag),
            };
          },
          onResponse: (status, body, context) =>
            void checker().check(status, body, (context as { tag: string }).tag),
        };
  const window = setTimeout(() => {
    measuring = true;
    onWindow();
  }, options.warmup * 1000);
  try {
    const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
      const instance = autocannon(
        {
          url: endpoint.url,
          connections: options.connections,
          duration: options.warmup + options.duration,
          requests: [request],
          timeout: 30,
        },
        (error, done) => (error ? reject(error as Error) : resolveRun(done)),
      );
      // Emitted after onResponse for the same response.
      instance.on('response', (_client, _status, resBytes, responseTime) => {
        if (!measuring) return;
        latencies.push(responseTime);
        bytes = resBytes;
      });
    });
    return { latencies, result, bytes };
  } finally {
    clearTimeout(window);
  }
}

/**
 * Waits until `child` uses under 10 % of a core: a gateway goes on with the
 * requests the load generator gave up on when it stopped, which must not
 * land in the next measurement.
 */
async function settle(child: Child | undefined, maxMs = 60_000): Promise<void> {
  if (!child) return;
  const sampler = new ProcSampler(child.pid, 100);
  const deadline = Date.now() + maxMs;
  try {
    await sleep(500);
    while (Date.now() < deadline && sampler.recentCpuPct(500) > 10) await sleep(250);
  } finally {
    sampler.stop();
  }
}

/** Busy time (user, system, irq) of the gateway's core. */
const coreSampler = (ctx: RunContext) => systemCpuSampler(`cpu${ctx.cpus.gateway ?? '0'}`);

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function measure(
  target: Target,
  endpoint: Endpoint,
  query: BenchQuery,
  mode: Mode,
  rep: number,
  ctx: RunContext & { subgraphs: Child },
): Promise<LoadResult> {
  const { opts } = ctx;
  const duration = opts.number('duration', { min: 1, max: 600 });
  const warmup = opts.number('warmup', { min: 0, max: 600 });
  const connections = opts.number('connections', { min: 1, max: 10_000 });
  const result = emptyResult(target, query.name, mode, rep);
  try {
    // The subgraphs' response cache is set before the self-check, so that
    // the cache's own answers are checked too.
    result.subgraphCache = ctx.subgraphCache.includes(query.name);
    await subgraphStats(ctx.subgraphs, result.subgraphCache);
    const { reference, fetches: planFetches } = await selfCheck(endpoint, query, ctx.subgraphs);
    result.planFetches = planFetches;
    // Signatures live 60 s: the pool is signed right before the load that uses it.
    const poolFor = async (seconds: number) =>
      target === 'subgraph' && mode === 'distinct'
        ? signPool(endpoint, query, Math.ceil(seconds * 3000))
        : undefined;
    // How busy the gateway's core is with other work than the gateway (another
    // benchmark or build pinned there halves what the gateway gets).
    const idleCore = coreSampler(ctx);
    const idleGateway = endpoint.child && new ProcSampler(endpoint.child.pid);
    await sleep(1000);
    idleCore.stop();
    idleGateway?.stop();
    result.coreBusyBeforePct = round(idleCore.cpuPct() - (idleGateway?.cpuPct() ?? 0), 1);
    if (result.coreBusyBeforePct > 20) {
      log(
        `warning: other work kept CPU ${ctx.cpus.gateway ?? '0'} ${result.coreBusyBeforePct}% busy ` +
          'in the second before the load',
      );
    }
    const pool = await poolFor(warmup + duration);
    const checkers = {
      warmup: new ResponseChecker(query, reference),
      measured: new ResponseChecker(query, reference),
    };
    const checker = checkers.measured;
    const gateway = endpoint.child && new ProcSampler(endpoint.child.pid);
    const subgraphs = new ProcSampler(ctx.subgraphs.pid);
    const self = new ProcSampler(process.pid);
    const gatewayCore = coreSampler(ctx);
    const samplers = [gateway, subgraphs, self, gatewayCore].filter(
      (s): s is ProcSampler => s !== undefined,
    );
    let statsBefore: Promise<SubgraphStats> | undefined;
    let windowStart = NaN;
    const {
      latencies,
      result: ac,
      bytes,
    } = await load(
      endpoint,
      query,
      mode,
      { warmup, duration, connections, ...(pool ? { pool } : {}) },
      checkers,
      () => {
        windowStart = performance.now();
        samplers.forEach((s) => s.mark('start'));
        statsBefore = subgraphStats(ctx.subgraphs);
      },
    );
    const seconds = (performance.now() - windowStart) / 1000;
    samplers.forEach((s) => s.mark('end'));
    samplers.forEach((s) => s.stop());
    const statsAfter = await subgraphStats(ctx.subgraphs);
    const before = await statsBefore!;
    const fetches = totalRequests(statsAfter) - totalRequests(before);
    const hits = statsAfter.cacheHits - before.cacheHits;
    if (checkers.warmup.bad) {
      log(`${target} ${query.name} ${mode}: ${checkers.warmup.bad} bad responses while warming up`);
    }
    await settle(endpoint.child);
    latencies.sort((a, b) => a - b);
    const cpuSec = (s: ProcSampler) => (s.cpuPct('start', 'end') / 100) * seconds;
    const perRequestMs = (s: ProcSampler) =>
      checker.good ? round((cpuSec(s) / checker.good) * 1000, 2) : NaN;
    Object.assign(result, {
      seconds: round(seconds, 2),
      good: checker.good,
      bad: checker.bad,
      badReasons: checker.reasons,
      ...(checker.sample ? { badSample: checker.sample } : {}),
      transportErrors: ac.errors + ac.timeouts,
      requestsPerSec: round(checker.good / seconds, 1),
      latencyMs: {
        p50: round(quantile(latencies, 0.5), 1),
        p95: round(quantile(latencies, 0.95), 1),
        p99: round(quantile(latencies, 0.99), 1),
        max: round(latencies[latencies.length - 1] ?? NaN, 1),
      },
      responseBytes: bytes,
      gatewayCpuMsPerRequest: gateway ? perRequestMs(gateway) : NaN,
      gatewayCpuPct: gateway ? round(gateway.cpuPct('start', 'end'), 1) : NaN,
      gatewayPeakRssMiB: gateway ? round(gateway.peakRssMiB(), 1) : NaN,
      subgraphCpuMsPerRequest: perRequestMs(subgraphs),
      subgraphCpuPct: round(subgraphs.cpuPct('start', 'end'), 1),
      subgraphFetchesPerRequest: checker.good ? round(fetches / checker.good, 2) : NaN,
      subgraphCacheHitPct: fetches ? round((hits / fetches) * 100, 1) : NaN,
      loadCpuPct: round(self.cpuPct('start', 'end'), 1),
      gatewayCoreBusyPct: round(gatewayCore.cpuPct('start', 'end'), 1),
    });
    const bad = checker.bad + checkers.warmup.bad;
    result.ok = bad === 0 && result.transportErrors === 0 && checker.good > 0;
    if (!result.ok) {
      result.error = !checker.good
        ? 'no response completed within --duration'
        : `${bad} bad responses ${JSON.stringify({ ...checkers.warmup.reasons, ...checker.reasons })}, ` +
          `${result.transportErrors} connection errors/timeouts`;
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  }
  log(
    `${target} ${query.name} ${mode} rep ${rep}: ${result.ok ? 'ok' : `FAILED (${result.error})`}, ` +
      `${result.requestsPerSec} req/s, p50 ${result.latencyMs.p50} ms, ` +
      `gateway ${result.gatewayCpuMsPerRequest} ms CPU/req, subgraphs ${result.subgraphCpuMsPerRequest} ms CPU/req`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// Report

interface Summary {
  target: Target;
  query: QueryName;
  mode: Mode;
  reps: number;
  failedReps: number;
  bestRequestsPerSec: number;
  requestsPerSec: number[];
  p50: number;
  p95: number;
  p99: number;
  gatewayCpuMsPerRequest: number;
  subgraphCpuMsPerRequest: number;
  subgraphFetchesPerRequest: number;
  planFetches: number;
  subgraphCache: boolean;
  gatewayPeakRssMiB: number;
  gatewayCpuPct: number;
  subgraphCpuPct: number;
  gatewayCoreBusyPct: number;
  /** Reps during which other work took a noticeable share of the gateway's core. */
  sharedCoreReps: number;
}

/**
 * Whether other work shared the gateway's core during a rep: it was busy
 * before the load, or busy well beyond the gateway's own CPU during it.
 */
const contended = (r: LoadResult) =>
  r.coreBusyBeforePct > 20 ||
  (r.target !== 'subgraph' && r.gatewayCoreBusyPct - r.gatewayCpuPct > 25);

/** Per target × query × mode: the best rep for throughput and its latency; CPU as the median of the reps. */
function summarise(results: readonly LoadResult[]): Summary[] {
  const groups = new Map<string, LoadResult[]>();
  for (const r of results) {
    const key = `${r.target}|${r.query}|${r.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const median = (values: number[]) => {
    const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return v.length ? v[Math.floor((v.length - 1) / 2)]! : NaN;
  };
  const peak = (values: number[]) => {
    const v = values.filter((x) => Number.isFinite(x));
    return v.length ? Math.max(...v) : NaN;
  };
  return [...groups.values()].map((reps) => {
    const ok = reps.filter((r) => r.ok);
    const best = [...ok].sort((a, b) => b.requestsPerSec - a.requestsPerSec)[0];
    return {
      target: reps[0]!.target,
      query: reps[0]!.query,
      mode: reps[0]!.mode,
      reps: reps.length,
      failedReps: reps.length - ok.length,
      bestRequestsPerSec: best?.requestsPerSec ?? NaN,
      requestsPerSec: reps.map((r) => r.requestsPerSec),
      p50: best?.latencyMs.p50 ?? NaN,
      p95: best?.latencyMs.p95 ?? NaN,
      p99: best?.latencyMs.p99 ?? NaN,
      gatewayCpuMsPerRequest: median(ok.map((r) => r.gatewayCpuMsPerRequest)),
      subgraphCpuMsPerRequest: median(ok.map((r) => r.subgraphCpuMsPerRequest)),
      subgraphFetchesPerRequest: median(ok.map((r) => r.subgraphFetchesPerRequest)),
      planFetches: median(reps.map((r) => r.planFetches)),
      subgraphCache: reps[0]!.subgraphCache,
      gatewayPeakRssMiB: peak(reps.map((r) => r.gatewayPeakRssMiB)),
      gatewayCpuPct: median(ok.map((r) => r.gatewayCpuPct)),
      subgraphCpuPct: median(ok.map((r) => r.subgraphCpuPct)),
      gatewayCoreBusyPct: median(ok.map((r) => r.gatewayCoreBusyPct)),
      sharedCoreReps: reps.filter(contended).length,
    };
  });
}

function table(summaries: readonly Summary[]): string {
  return markdownTable(
    [
      'query',
      'mode',
      'gateway',
      'req/s (best rep)',
      'req/s (each rep)',
      'p50 / p95 / p99 ms',
      'gateway CPU ms/req',
      'gateway CPU % (core busy %)',
      'subgraphs CPU ms/req',
      'subgraph fetches/req (alone)',
      'subgraphs CPU %',
      'gateway peak RSS MiB',
      'failed reps',
      'reps on a shared core',
    ],
    summaries.map((s) => [
      s.query,
      s.mode,
      s.target,
      s.bestRequestsPerSec,
      s.requestsPerSec.join(', '),
      `${s.p50} / ${s.p95} / ${s.p99}`,
      s.gatewayCpuMsPerRequest,
      `${s.gatewayCpuPct} (${s.gatewayCoreBusyPct})`,
      s.subgraphCpuMsPerRequest,
      `${s.subgraphFetchesPerRequest} (${s.planFetches})`,
      `${s.subgraphCpuPct}${s.subgraphCache ? ' (cache)' : ''}`,
      Number.isFinite(s.gatewayPeakRssMiB) ? s.gatewayPeakRssMiB : NaN,
      s.failedReps ? `${s.failedReps} of ${s.reps}` : '0',
      s.sharedCoreReps ? `${s.sharedCoreReps} of ${s.reps}` : '0',
    ]),
  );
}

/**
 * The issue's ratios from this run: throughput against stock
 * @apollo/gateway and Hive's benchmark settings, and the small query's cost
 * through a gateway against straight to the subgraph (CPU ms per request of
 * gateway + subgraphs ÷ subgraphs alone).
 */
function ratios(summaries: readonly Summary[]): string[] {
  const find = (target: Target, query: QueryName, mode: Mode) =>
    summaries.find((s) => s.target === target && s.query === query && s.mode === mode);
  const lines: string[] = [];
  const x = (a: number, b: number) => `${round(a / b, 2)}×`;
  for (const query of QUERY_NAMES) {
    for (const mode of MODES) {
      const arcadia = find('arcadia', query, mode);
      if (!arcadia) continue;
      const parts: string[] = [];
      for (const peer of ['apollo', 'hive', 'hive-bench'] as const) {
        const p = find(peer, query, mode);
        if (p) parts.push(`${x(arcadia.bestRequestsPerSec, p.bestRequestsPerSec)} ${peer}`);
      }
      if (parts.length) lines.push(`- ${query}, ${mode}: Arcadia req/s = ${parts.join(', ')}`);
    }
  }
  for (const mode of MODES) {
    const direct = find('subgraph', 'small', mode);
    if (!direct) continue;
    const parts: string[] = [];
    for (const gw of ['arcadia', 'apollo', 'hive', 'hive-bench'] as const) {
      const g = find(gw, 'small', mode);
      if (g) {
        parts.push(
          `${gw} ${x(g.gatewayCpuMsPerRequest + g.subgraphCpuMsPerRequest, direct.subgraphCpuMsPerRequest)}`,
        );
      }
    }
    lines.push(
      `- small, ${mode}: CPU per request through the gateway (gateway + subgraphs) ÷ straight to the subgraph ` +
        `(${direct.subgraphCpuMsPerRequest} ms): ${parts.join(', ')}`,
    );
  }
  return lines;
}

export async function main(argv: string[]): Promise<void> {
  const opts = new Options(argv, spec);
  if (opts.help) {
    console.log(`npm run bench -- router [options]\n\n${description}\n\n${opts.usage()}`);
    return;
  }
  const targets = opts.list('gateways', TARGETS);
  const queries = opts.list('queries', QUERY_NAMES);
  const modes = opts.list('modes', MODES);
  const subgraphCache =
    opts.string('subgraph-cache') === 'none' ? [] : opts.list('subgraph-cache', QUERY_NAMES);
  const reps = opts.number('reps', { min: 1, max: 20 });
  opts.number('duration', { min: 1, max: 600 });
  opts.number('warmup', { min: 0, max: 600 });
  opts.number('connections', { min: 1, max: 10_000 });
  if (opts.number('duration') + opts.number('warmup') > 50 && targets.includes('subgraph')) {
    // The baseline's identical requests share one signed header, valid 60 s.
    throw new Error('with the subgraph baseline, --duration + --warmup must stay within 50 s');
  }
  const redisUrl = opts.string('redis-url');

  const run = await BenchRun.start('router', { pin: opts.string('pin') });
  const { logDir, homeDir, runId, cpus: cpusPlan } = run;
  const placement = cpusPlan.rest
    ? `gateway pinned to CPU 0; subgraphs, load (autocannon, in the harness) and harness pinned to CPU ${cpusPlan.rest}`
    : `no pinning: gateway, subgraphs, load and harness share ${run.cpuCount} CPUs`;

  const results: LoadResult[] = [];
  let subgraphs: Child | undefined;
  try {
    const keys = await loadKeyMaterial({ localFile: join(homeDir, 'keys.json') });
    const ports = Object.fromEntries(
      await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()] as const)),
    ) as Record<SubgraphName, number>;
    const sdl = subgraphSdls();
    const { supergraphSdl } = composeSupergraph(
      SUBGRAPHS.map((name) => ({
        name,
        url: `http://127.0.0.1:${ports[name]}/graphql`,
        typeDefs: sdl[name],
      })),
    );
    const supergraphPath = join(homeDir, 'supergraph.graphql');
    await writeFile(supergraphPath, supergraphSdl);

    log('starting the subgraphs');
    subgraphs = spawnChild(
      'subgraphs',
      process.execPath,
      ['--import', 'tsx', relative(repoRoot, join(here, 'subgraphs.ts'))],
      {
        cwd: repoRoot,
        logDir,
        cpus: cpusPlan.rest,
        ipc: true,
        env: {
          ARCADIA_HOME: homeDir,
          SUBGRAPH_PORTS: JSON.stringify(ports),
          NODE_ENV: 'production',
        },
      },
    );
    const { urls } = await nextMessage<{ urls: Record<SubgraphName, string> }>(
      subgraphs,
      'ready',
      60_000,
    );
    const ctx = {
      opts,
      logDir,
      homeDir,
      supergraphPath,
      redisUrl,
      runId,
      cpus: cpusPlan,
      subgraphUrls: urls,
      signCaller: createCallerSigner(keys.internalSecrets),
      subgraphCache,
      subgraphs,
    };
    log(placement);
    for (let rep = 1; rep <= reps; rep++) {
      // Alternate the order so slow drift of the machine hits every gateway alike.
      const order = rep % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) {
        const targetQueries =
          target === 'subgraph' ? queries.filter((q) => q === 'small') : queries;
        if (!targetQueries.length) continue;
        log(`rep ${rep}: ${target}`);
        let endpoint: Endpoint | undefined;
        try {
          endpoint = await startTarget(target, ctx, rep);
          for (const q of targetQueries) {
            for (const mode of modes) {
              results.push(await measure(target, endpoint, QUERIES[q], mode, rep, ctx));
            }
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          log(`${target}: FAILED: ${message}`);
          for (const q of targetQueries) {
            for (const mode of modes) {
              if (
                results.some(
                  (r) => r.target === target && r.query === q && r.mode === mode && r.rep === rep,
                )
              )
                continue;
              results.push({
                ...emptyResult(target, q, mode, rep),
                error: message,
              });
            }
          }
        } finally {
          await endpoint?.child?.stop(5000);
        }
        await sleep(500);
      }
    }
  } finally {
    await subgraphs?.stop(5000);
    await rm(homeDir, { recursive: true, force: true });
  }

  const summaries = summarise(results);
  const { machine, versions } = run.environment([
    '@apollo/gateway',
    '@apollo/server',
    '@graphql-hive/gateway',
    'autocannon',
    'graphql',
  ]);
  const report = {
    benchmark: 'router',
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: opts.effective(),
    machine,
    placement,
    versions,
    targets: Object.fromEntries(targets.map((t) => [t, TARGET_LABELS[t]])),
    queries: Object.fromEntries(
      queries.map((q) => [q, { description: QUERIES[q].description, query: QUERIES[q].query }]),
    ),
    summaries,
    results,
  };
  await run.save(report);

  console.log(
    `\n## Router: ${opts.string('connections')} connections, ${opts.string('duration')} s per rep, ${reps} reps\n\n` +
      `${machine.cpus} × ${machine.cpuModel}, Node ${process.version}; ${placement}.\n` +
      `Arcadia router ${report.versions.arcadiaRouter}; @apollo/gateway ${report.versions['@apollo/gateway']}; ` +
      `Hive Gateway ${report.versions['@graphql-hive/gateway']}; autocannon ${report.versions.autocannon}.\n\n` +
      `${table(summaries)}\n\n${ratios(summaries).join('\n')}\n`,
  );
  for (const r of results.filter((x) => !x.ok)) {
    console.log(`FAILED ${r.target} ${r.query} ${r.mode} rep ${r.rep}: ${r.error}`);
    if (r.badSample) console.log(`  sample: ${r.badSample}`);
  }
  run.printFiles();
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

function emptyResult(target: Target, query: QueryName, mode: Mode, rep: number): LoadResult {
  return {
    target,
    query,
    mode,
    rep,
    ok: false,
    seconds: NaN,
    good: 0,
    bad: 0,
    badReasons: {},
    transportErrors: 0,
    requestsPerSec: NaN,
    latencyMs: { p50: NaN, p95: NaN, p99: NaN, max: NaN },
    responseBytes: NaN,
    gatewayCpuMsPerRequest: NaN,
    gatewayCpuPct: NaN,
    gatewayPeakRssMiB: NaN,
    subgraphCpuMsPerRequest: NaN,
    subgraphCpuPct: NaN,
    subgraphFetchesPerRequest: NaN,
    planFetches: NaN,
    subgraphCache: false,
    subgraphCacheHitPct: NaN,
    loadCpuPct: NaN,
    gatewayCoreBusyPct: NaN,
    coreBusyBeforePct: NaN,
  };
}
