/**
 * Subscriptions benchmark: the Arcadia router and Hive Gateway, one after
 * the other in the same run, serve the same federated subscription (with an
 * entity field from a second subgraph) over graphql-ws to N clients while
 * the harness publishes M events/s through Redis for D seconds. Reports, per
 * gateway: clients connected, events delivered per second, lost and
 * duplicate events, publish-to-client latency, and the gateway process's
 * memory and CPU. See bench/README.md.
 *
 *   npm run bench -- subscriptions [--clients 10000] [--rate 10] [--duration 20] …
 */
import { rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTokenSigner, loadKeyMaterial } from '@arcadia/auth';
import { createPubSub, type TypedPubSub } from '@arcadia/pubsub';
import { composeSupergraph } from '@arcadia/schema';
import { Options } from '../lib/args.js';
import { arcadiaRouterCommand, hiveGatewayArgs } from '../lib/gateways.js';
import { ask, nextMessage } from '../lib/ipc.js';
import {
  findPids,
  httpOk,
  ProcSampler,
  spawnChild,
  systemCpuSampler,
  waitFor,
  type Child,
} from '../lib/proc.js';
import { BenchRun, freePort, log, repoRoot } from '../lib/run.js';
import { markdownTable, mergeHistograms, percentile, round } from '../lib/stats.js';
import {
  HIST_RES_MS,
  type ClientCommand,
  type ClientProgress,
  type ClientReport,
} from './clients.js';
import { subgraphSdls, tickTrigger, type SubgraphStats, type TickEvent } from './subgraph.js';

export const description =
  'graphql-ws subscriptions fan-out: Arcadia router vs Hive Gateway (clients, events/s, loss, latency, RSS, CPU)';

const here = dirname(fileURLToPath(import.meta.url));

const GATEWAYS = ['hive', 'arcadia'] as const;
type GatewayName = (typeof GATEWAYS)[number];

const SUBSCRIPTION = /* GraphQL */ `
  subscription BenchTicks($channel: ID!) {
    ticks(channel: $channel) {
      seq
      sentAt
      payload
      author {
        id
        name
      }
    }
  }
`;

const spec = {
  clients: { description: 'subscribed clients', default: '10000' },
  rate: { description: 'events published per second', default: '10' },
  duration: { description: 'seconds of publishing', default: '20' },
  'connect-rate': {
    description: 'new client connections per second (all client processes)',
    default: '500',
  },
  'client-procs': { description: 'client load processes', default: '1' },
  'payload-bytes': { description: 'size of each event’s payload string', default: '64' },
  shared: {
    description:
      'mark Subscription.ticks @shared (Arcadia: one upstream and one resolution per event for all callers): yes|no',
    default: 'yes',
  },
  gateways: {
    description: `which gateways, in order (${GATEWAYS.join(',')})`,
    default: GATEWAYS.join(','),
  },
  pin: {
    description:
      '`gateway`: gateway on CPU 0, everything else of the run on CPU 1; `none`: no pinning',
    default: 'gateway',
  },
  drain: {
    description: 'max seconds to wait for late events after the last publish',
    default: '30',
  },
  'connect-timeout': {
    description: 'max seconds for all clients to connect, beyond clients/connect-rate',
    default: '60',
  },
  'warmup-timeout': {
    description: 'max seconds for every client to receive a warm-up event',
    default: '60',
  },
  profile: {
    description: 'write a V8 CPU profile of each gateway into the run’s log folder',
    flag: true,
  },
  'redis-url': {
    description: 'Redis for pub/sub and the router',
    default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  },
};

const now = () => performance.timeOrigin + performance.now();

interface GatewayResult {
  gateway: GatewayName;
  ok: boolean;
  error?: string;
  clients: {
    requested: number;
    connected: number;
    failed: number;
    droppedAfterConnect: number;
    primed: number;
    reasons: Record<string, number>;
    connectSec: number;
    warmupSec: number;
  };
  events: {
    published: number;
    publishSec: number;
    maxPublishLagMs: number;
    offeredPerSec: number;
    expected: number;
    received: number;
    unique: number;
    lost: number;
    duplicates: number;
    outOfOrder: number;
    withErrors: number;
    invalid: number;
    deliveredPerSec: number;
    peakDeliveredPerSec: number;
    drainSec: number;
    /** The gateway was still busy (>50 % CPU) when the drain window ended: missing events may be late, not lost. */
    gatewayBusyAtEnd: boolean;
    anyLost: boolean;
    sample?: string;
  };
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  gatewayProcess: {
    rssIdleMiB: number;
    rssConnectedMiB: number;
    rssPeakMiB: number;
    kibPerClient: number;
    cpuConnectPct: number;
    cpuEventsPct: number;
    cpuPeakPct: number;
  };
  subgraphProcess: {
    cpuEventsPct: number;
    rssPeakMiB: number;
    stats?: SubgraphStats;
    /** `end`, or `start` (of the measured window) when the subgraphs did not answer at the end. */
    statsFrom?: 'start' | 'end';
  };
  clientProcesses: { cpuEventsPct: number; rssPeakMiB: number };
  harnessProcess: { cpuEventsPct: number };
  /** Whole-machine CPU during the events window (100 = one core), to expose noise from outside the bench. */
  /** Child processes that exited before the harness stopped them, with their exit code or signal. */
  earlyExits: Record<string, string>;
  machineCpu: {
    busyPct: number;
    gatewayCorePct: number;
    stealPct: number;
    /** Kernel softirq time (loopback networking, mostly). */
    softirqPct: number;
    /** redis-server processes, if any run here. */
    redisPct: number;
    /**
     * Busy CPU not used by the bench's processes or Redis: other work on the machine and
     * the kernel (softirq that is not charged to a process lands here). Approximate.
     */
    outsideBenchPct: number;
    loadAverage1m: number;
  };
  logs: string;
}

interface RunContext {
  opts: Options;
  logDir: string;
  homeDir: string;
  supergraphPath: string;
  ports: { ticks: number; users: number };
  tokens: string[];
  redisUrl: string;
  runId: string;
  cpus: BenchRun['cpus'];
  shared: boolean;
}

function gatewayCommand(
  name: GatewayName,
  ctx: RunContext,
  port: number,
): { command: string; args: string[]; env: Record<string, string>; healthUrl: string } {
  if (name === 'arcadia') {
    return {
      command: process.execPath,
      ...arcadiaRouterCommand(ctx, port, {
        LOG_LEVEL: 'warn',
        // The benchmark's clients all come from 127.0.0.1.
        MAX_CONNECTIONS_PER_CLIENT: '0',
      }),
      healthUrl: `http://127.0.0.1:${port}/health`,
    };
  }
  return {
    command: process.execPath,
    args: hiveGatewayArgs(ctx.supergraphPath, port),
    env: {
      ARCADIA_HOME: ctx.homeDir,
      REDIS_URL: ctx.redisUrl,
      NODE_ENV: 'production',
      HIVE_LOG_LEVEL: 'warn',
    },
    healthUrl: `http://127.0.0.1:${port}/healthcheck`,
  };
}

async function runGateway(
  name: GatewayName,
  ctx: RunContext,
  pubsub: TypedPubSub<Record<string, TickEvent>>,
): Promise<GatewayResult> {
  const { opts } = ctx;
  const clientsWanted = ctx.tokens.length;
  const rate = opts.number('rate', { min: 0.1, max: 1000 });
  const duration = opts.number('duration', { min: 1, max: 600 });
  const measuredEvents = Math.round(rate * duration);
  const connectRate = opts.number('connect-rate', { min: 1, max: 20000 });
  const procs = Math.min(clientsWanted, opts.number('client-procs', { min: 1, max: 8 }));
  const payload = 'x'.repeat(opts.number('payload-bytes', { min: 0, max: 1_000_000 }));
  const channel = `${ctx.runId}-${name}`;
  const children: Child[] = [];
  const samplers: ProcSampler[] = [];
  const selfSampler = new ProcSampler(process.pid);
  const machineSampler = systemCpuSampler('cpu');
  const gatewayCoreSampler = systemCpuSampler(`cpu${ctx.cpus.gateway ?? '0'}`);
  const stealSampler = systemCpuSampler('cpu', 'stealSec');
  const softirqSampler = systemCpuSampler('cpu', 'softirqSec');
  const redisSamplers = findPids('redis-server').map((pid) => new ProcSampler(pid));
  samplers.push(
    selfSampler,
    machineSampler,
    gatewayCoreSampler,
    stealSampler,
    softirqSampler,
    ...redisSamplers,
  );
  const result: GatewayResult = {
    gateway: name,
    ok: false,
    clients: {
      requested: clientsWanted,
      connected: 0,
      failed: 0,
      droppedAfterConnect: 0,
      primed: 0,
      reasons: {},
      connectSec: NaN,
      warmupSec: NaN,
    },
    events: {
      published: 0,
      publishSec: NaN,
      maxPublishLagMs: NaN,
      offeredPerSec: NaN,
      expected: 0,
      received: 0,
      unique: 0,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      withErrors: 0,
      invalid: 0,
      deliveredPerSec: NaN,
      peakDeliveredPerSec: NaN,
      drainSec: NaN,
      gatewayBusyAtEnd: false,
      anyLost: true,
    },
    latencyMs: { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN },
    gatewayProcess: {
      rssIdleMiB: NaN,
      rssConnectedMiB: NaN,
      rssPeakMiB: NaN,
      kibPerClient: NaN,
      cpuConnectPct: NaN,
      cpuEventsPct: NaN,
      cpuPeakPct: NaN,
    },
    subgraphProcess: { cpuEventsPct: NaN, rssPeakMiB: NaN },
    clientProcesses: { cpuEventsPct: NaN, rssPeakMiB: NaN },
    harnessProcess: { cpuEventsPct: NaN },
    earlyExits: {},
    machineCpu: {
      busyPct: NaN,
      gatewayCorePct: NaN,
      stealPct: NaN,
      softirqPct: NaN,
      redisPct: NaN,
      outsideBenchPct: NaN,
      loadAverage1m: NaN,
    },
    logs: relative(repoRoot, ctx.logDir),
  };
  let gatewaySampler: ProcSampler | undefined;
  let subgraphSampler: ProcSampler | undefined;
  const clientSamplers: ProcSampler[] = [];
  const mark = (m: string) => samplers.forEach((s) => s.mark(m));
  let exitsChecked = false;
  const checkExits = () => {
    exitsChecked = true;
    for (const c of children) {
      const code = c.process.signalCode ?? c.process.exitCode;
      if (code !== null) result.earlyExits[c.name] = String(code);
    }
    if (Object.keys(result.earlyExits).length) {
      log(`${name}: exited before the end: ${JSON.stringify(result.earlyExits)}`);
    }
  };

  try {
    // 1. Subgraphs (fresh per gateway, so each starts from the same state).
    log(`${name}: starting subgraphs`);
    const subgraphs = spawnChild(
      `${name}-subgraphs`,
      process.execPath,
      ['--import', 'tsx', relative(repoRoot, join(here, 'subgraph.ts'))],
      {
        cwd: repoRoot,
        logDir: ctx.logDir,
        cpus: ctx.cpus.rest,
        ipc: true,
        env: {
          ARCADIA_HOME: ctx.homeDir,
          REDIS_URL: ctx.redisUrl,
          PUBSUB_PREFIX: `bench:${ctx.runId}`,
          TICKS_PORT: String(ctx.ports.ticks),
          TICKS_SHARED: ctx.shared ? 'yes' : 'no',
          USERS_PORT: String(ctx.ports.users),
        },
      },
    );
    children.push(subgraphs);
    await nextMessage(subgraphs, 'ready', 60_000);
    subgraphSampler = new ProcSampler(subgraphs.pid);
    samplers.push(subgraphSampler);

    // 2. The gateway.
    const port = await freePort();
    const cmd = gatewayCommand(name, ctx, port);
    if (opts.flag('profile'))
      cmd.args.unshift('--cpu-prof', '--cpu-prof-dir', join(ctx.logDir, `${name}-profile`));
    log(`${name}: starting gateway on :${port}`);
    const gateway = spawnChild(`${name}-gateway`, cmd.command, cmd.args, {
      cwd: repoRoot,
      logDir: ctx.logDir,
      cpus: ctx.cpus.gateway,
      env: cmd.env,
    });
    children.push(gateway);
    await waitFor(`${name} health`, () => httpOk(cmd.healthUrl), {
      timeoutMs: 90_000,
      child: gateway,
    });
    gatewaySampler = new ProcSampler(gateway.pid);
    samplers.push(gatewaySampler);
    await sleep(1000);
    mark('idle');

    // 3. Clients.
    const clientProcs: Child[] = [];
    const hellos: Promise<unknown>[] = [];
    for (let i = 0; i < procs; i++) {
      const c = spawnChild(
        `${name}-clients-${i}`,
        process.execPath,
        ['--import', 'tsx', relative(repoRoot, join(here, 'clients.ts'))],
        { cwd: repoRoot, logDir: ctx.logDir, cpus: ctx.cpus.rest, ipc: true },
      );
      children.push(c);
      clientProcs.push(c);
      hellos.push(nextMessage(c, 'hello', 60_000));
    }
    await Promise.all(hellos);
    for (const c of clientProcs) {
      const s = new ProcSampler(c.pid);
      clientSamplers.push(s);
      samplers.push(s);
    }
    const url = `ws://127.0.0.1:${port}/graphql`;
    const connectStart = now();
    clientProcs.forEach((c, i) => {
      const tokens = ctx.tokens.filter((_, j) => j % procs === i);
      const start: ClientCommand = {
        type: 'start',
        url,
        tokens,
        connectRate: connectRate / procs,
        query: SUBSCRIPTION,
        variables: { channel },
        measuredEvents,
      };
      c.process.send(start);
    });
    const progress = async () => {
      const parts = await Promise.all(
        clientProcs.map((c) => ask<ClientProgress>(c, { type: 'progress' }, 'progress')),
      );
      const sum = (k: keyof Omit<ClientProgress, 'type'>) =>
        parts.reduce((n, p) => n + (p[k] ?? 0), 0);
      return {
        attempted: sum('attempted'),
        acked: sum('acked'),
        failed: sum('failed'),
        dropped: sum('dropped'),
        primed: sum('primed'),
        received: sum('received'),
      };
    };

    log(`${name}: connecting ${clientsWanted} clients at ${connectRate}/s`);
    const connectDeadline =
      Date.now() + (clientsWanted / connectRate + opts.number('connect-timeout')) * 1000;
    let p = await progress();
    let lastLog = 0;
    while (p.acked + p.failed < clientsWanted && Date.now() < connectDeadline) {
      await sleep(250);
      p = await progress();
      if (Date.now() - lastLog > 2000) {
        lastLog = Date.now();
        log(`${name}:   ${p.acked} acked, ${p.failed} failed of ${clientsWanted}`);
      }
      if (gateway.process.exitCode !== null) throw new Error(`gateway exited:\n${gateway.tail()}`);
    }
    result.clients.connectSec = round((now() - connectStart) / 1000, 1);
    mark('connected');
    log(`${name}: ${p.acked} connected, ${p.failed} failed in ${result.clients.connectSec} s`);
    if (p.acked === 0)
      throw new Error(`no client connected; see ${relative(repoRoot, ctx.logDir)}`);

    // 4. Warm-up: every connected client must see an event before the
    // measured window starts, so every subscription is established end to
    // end. One warm-up event at a time (a saturated gateway would otherwise
    // start the window with a backlog); another only when priming stalls,
    // i.e. the last one reached everybody whose subscription was ready.
    const warmStart = now();
    const warmDeadline = Date.now() + opts.number('warmup-timeout') * 1000;
    let warmSeq = -1;
    const warm = () =>
      pubsub.publish(tickTrigger(channel), {
        seq: warmSeq--,
        sentAt: now(),
        payload,
        authorId: 'u0',
      });
    await warm();
    let lastPrimed = -1;
    let primedChangedAt = Date.now();
    while (Date.now() < warmDeadline) {
      await sleep(250);
      p = await progress();
      if (p.primed >= p.acked - p.dropped) break;
      if (p.primed !== lastPrimed) {
        lastPrimed = p.primed;
        primedChangedAt = Date.now();
      } else if (Date.now() - primedChangedAt > 2000) {
        await warm();
        primedChangedAt = Date.now();
      }
    }
    result.clients.warmupSec = round((now() - warmStart) / 1000, 1);
    // Upstream subscriptions as the measured window starts; asked again at the
    // end, when an overloaded subgraph may not answer in time.
    const statsAtStart = await ask<{ stats: SubgraphStats }>(
      subgraphs,
      { type: 'stats' },
      'stats',
      10_000,
    ).catch(() => undefined);
    log(
      `${name}: ${p.primed}/${p.acked - p.dropped} clients primed in ${result.clients.warmupSec} s`,
    );
    // Let the last warm-up events drain before measuring.
    await sleep(1500);
    p = await progress();
    const subscribedAtStart = p.acked - p.dropped;

    // 5. Publish the measured events on a fixed schedule.
    log(
      `${name}: publishing ${measuredEvents} events at ${rate}/s to ${subscribedAtStart} subscribers`,
    );
    mark('publish');
    const publishStart = now();
    const interval = 1000 / rate;
    let maxLag = 0;
    for (let seq = 0; seq < measuredEvents; seq++) {
      const due = publishStart + seq * interval;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      const sentAt = now();
      maxLag = Math.max(maxLag, sentAt - due);
      await pubsub.publish(tickTrigger(channel), {
        seq,
        sentAt,
        payload,
        authorId: `u${seq % 100}`,
      });
    }
    const publishEnd = now();
    mark('published');
    result.events.published = measuredEvents;
    result.events.publishSec = round((publishEnd - publishStart) / 1000, 2);
    result.events.maxPublishLagMs = round(maxLag, 1);

    // 6. Drain: until everything expected has arrived, or nothing has
    // arrived for a while with the gateway idle (a saturated gateway can go
    // many seconds between deliveries while it works through its backlog),
    // or the limit.
    const expected = subscribedAtStart * measuredEvents;
    const drainDeadline = Date.now() + opts.number('drain') * 1000;
    let lastReceived = -1;
    let stalledSince = Date.now();
    while (Date.now() < drainDeadline) {
      p = await progress();
      if (p.received >= expected) break;
      if (p.received !== lastReceived) {
        lastReceived = p.received;
        stalledSince = Date.now();
      } else if (Date.now() - stalledSince > 3000 && gatewaySampler.recentCpuPct(2000) < 10) break;
      await sleep(250);
    }
    result.events.drainSec = round((now() - publishEnd) / 1000, 1);
    result.events.gatewayBusyAtEnd = gatewaySampler.recentCpuPct(2000) > 50;
    mark('drained');

    // 7. Collect.
    const reports = await Promise.all(
      clientProcs.map((c) => ask<ClientReport>(c, { type: 'report' }, 'report', 60_000)),
    );
    const statsAtEnd = await ask<{ stats: SubgraphStats }>(
      subgraphs,
      { type: 'stats' },
      'stats',
      15_000,
    ).catch(() => {
      log(
        `${name}: the subgraphs did not answer at the end (overloaded?); using their counts from the start`,
      );
      return undefined;
    });
    const stats = statsAtEnd ?? statsAtStart;
    const sum = (k: keyof ClientReport) => reports.reduce((n, r) => n + ((r[k] as number) ?? 0), 0);
    const reasons: Record<string, number> = {};
    for (const r of reports) {
      for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
    }
    const histogram = mergeHistograms(reports.map((r) => r.histogram));
    const perSecond = new Map<number, number>();
    for (const r of reports)
      for (const [s, n] of r.perSecond) perSecond.set(s, (perSecond.get(s) ?? 0) + n);
    const lastReceiveAt = Math.max(...reports.map((r) => r.lastReceiveAt));
    const received = sum('received');
    const unique = sum('unique');

    result.clients = {
      ...result.clients,
      connected: sum('acked'),
      failed: sum('failed'),
      droppedAfterConnect: sum('dropped'),
      primed: sum('primed'),
      reasons,
    };
    result.events = {
      ...result.events,
      offeredPerSec: round(subscribedAtStart * rate, 0),
      expected,
      received,
      unique,
      lost: expected - unique,
      duplicates: sum('duplicates'),
      outOfOrder: sum('outOfOrder'),
      withErrors: sum('withErrors'),
      invalid: sum('invalid'),
      deliveredPerSec:
        received && lastReceiveAt > publishStart
          ? round(received / ((lastReceiveAt - publishStart) / 1000), 0)
          : 0,
      // Whole seconds inside the publishing window only, so a partial edge second does not count.
      peakDeliveredPerSec: Math.max(
        0,
        ...[...perSecond.entries()]
          .filter(
            ([s]) =>
              s * 1000 >= publishStart && (s + 1) * 1000 <= Math.max(publishEnd, lastReceiveAt),
          )
          .map(([, n]) => n),
      ),
      anyLost: expected - unique > 0,
      ...(reports.find((r) => r.sample)?.sample
        ? { sample: reports.find((r) => r.sample)!.sample! }
        : {}),
    };
    result.latencyMs = {
      p50: round(percentile(histogram, 0.5, HIST_RES_MS), 1),
      p90: round(percentile(histogram, 0.9, HIST_RES_MS), 1),
      p99: round(percentile(histogram, 0.99, HIST_RES_MS), 1),
      p999: round(percentile(histogram, 0.999, HIST_RES_MS), 1),
      max: round(Math.max(0, ...reports.map((r) => r.maxLatencyMs)), 1),
    };
    samplers.forEach((s) => s.stop());
    const g = gatewaySampler;
    result.gatewayProcess = {
      rssIdleMiB: round(g.rssAtMiB('idle'), 1),
      rssConnectedMiB: round(g.rssAtMiB('connected'), 1),
      rssPeakMiB: round(g.peakRssMiB(), 1),
      // Meaningless below a few thousand clients: GC moves RSS by more than the clients cost.
      kibPerClient:
        subscribedAtStart >= 1000
          ? round(((g.rssAtMiB('connected') - g.rssAtMiB('idle')) * 1024) / subscribedAtStart, 1)
          : NaN,
      cpuConnectPct: round(g.cpuPct('idle', 'connected'), 1),
      cpuEventsPct: round(g.cpuPct('publish', 'drained'), 1),
      cpuPeakPct: round(g.peakCpuPct('idle', 'drained'), 1),
    };
    result.subgraphProcess = {
      cpuEventsPct: round(subgraphSampler.cpuPct('publish', 'drained'), 1),
      rssPeakMiB: round(subgraphSampler.peakRssMiB(), 1),
      ...(stats
        ? { stats: stats.stats, statsFrom: statsAtEnd ? ('end' as const) : ('start' as const) }
        : {}),
    };
    result.clientProcesses = {
      cpuEventsPct: round(
        clientSamplers.reduce((n, s) => n + s.cpuPct('publish', 'drained'), 0),
        1,
      ),
      rssPeakMiB: round(
        clientSamplers.reduce((n, s) => n + s.peakRssMiB(), 0),
        1,
      ),
    };
    result.harnessProcess = { cpuEventsPct: round(selfSampler.cpuPct('publish', 'drained'), 1) };
    const busy = machineSampler.cpuPct('publish', 'drained');
    const softirq = softirqSampler.cpuPct('publish', 'drained');
    const redis = redisSamplers.reduce((n, s) => n + s.cpuPct('publish', 'drained'), 0);
    result.machineCpu = {
      busyPct: round(busy, 1),
      gatewayCorePct: round(gatewayCoreSampler.cpuPct('publish', 'drained'), 1),
      stealPct: round(stealSampler.cpuPct('publish', 'drained'), 1),
      softirqPct: round(softirq, 1),
      redisPct: round(redis, 1),
      outsideBenchPct: round(
        busy -
          redis -
          g.cpuPct('publish', 'drained') -
          subgraphSampler.cpuPct('publish', 'drained') -
          clientSamplers.reduce((n, s) => n + s.cpuPct('publish', 'drained'), 0) -
          selfSampler.cpuPct('publish', 'drained'),
        1,
      ),
      loadAverage1m: round(loadavg()[0] ?? NaN, 2),
    };
    result.ok = true;
    log(
      `${name}: received ${received}/${expected} (lost ${expected - unique}, dup ${result.events.duplicates}), ` +
        `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, gateway CPU ${result.gatewayProcess.cpuEventsPct}%`,
    );

    checkExits();

    // 8. Close clients first (their close is not a failure), then servers.
    await Promise.all(
      clientProcs.map((c) => ask(c, { type: 'close' }, 'never', 5000).catch(() => undefined)),
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`${name}: FAILED: ${result.error}`);
  } finally {
    samplers.forEach((s) => s.stop());
    if (!exitsChecked) checkExits();
    for (const c of [...children].reverse()) await c.stop(5000);
  }
  return result;
}

function table(results: GatewayResult[]): string {
  const rows: [string, (r: GatewayResult) => unknown][] = [
    ['status', (r) => (r.ok ? 'ok' : `FAILED: ${r.error?.split('\n')[0]?.slice(0, 80)}`)],
    ['clients connected / requested', (r) => `${r.clients.connected} / ${r.clients.requested}`],
    ['clients failed / dropped', (r) => `${r.clients.failed} / ${r.clients.droppedAfterConnect}`],
    ['connect time (s)', (r) => r.clients.connectSec],
    ['events published', (r) => r.events.published],
    ['offered msgs/s (subscribers × rate)', (r) => r.events.offeredPerSec],
    ['delivered msgs/s (mean)', (r) => r.events.deliveredPerSec],
    ['delivered msgs/s (peak 1 s)', (r) => r.events.peakDeliveredPerSec],
    ['expected messages', (r) => r.events.expected],
    ['received messages', (r) => r.events.received],
    ['lost or late (expected − unique received)', (r) => r.events.lost],
    ['duplicates', (r) => r.events.duplicates],
    ['events with errors / invalid', (r) => `${r.events.withErrors} / ${r.events.invalid}`],
    [
      'any event lost?',
      (r) =>
        !r.ok
          ? '–'
          : !r.events.anyLost
            ? 'no'
            : r.events.gatewayBusyAtEnd
              ? 'YES (gateway still busy at end of drain: backlog)'
              : 'YES',
    ],
    ['latency p50 (ms)', (r) => r.latencyMs.p50],
    ['latency p90 (ms)', (r) => r.latencyMs.p90],
    ['latency p99 (ms)', (r) => r.latencyMs.p99],
    ['latency max (ms)', (r) => r.latencyMs.max],
    ['drain after last publish (s)', (r) => r.events.drainSec],
    [
      'gateway RSS idle → connected (MiB)',
      (r) => `${r.gatewayProcess.rssIdleMiB} → ${r.gatewayProcess.rssConnectedMiB}`,
    ],
    ['gateway RSS peak (MiB)', (r) => r.gatewayProcess.rssPeakMiB],
    ['gateway KiB per client', (r) => r.gatewayProcess.kibPerClient],
    ['gateway CPU % while connecting', (r) => r.gatewayProcess.cpuConnectPct],
    ['gateway CPU % during events (mean)', (r) => r.gatewayProcess.cpuEventsPct],
    ['gateway CPU % (peak 1 s)', (r) => r.gatewayProcess.cpuPeakPct],
    ['subgraph CPU % during events', (r) => r.subgraphProcess.cpuEventsPct],
    [
      'upstream subscriptions at subgraph (peak)',
      (r) => r.subgraphProcess.stats?.peakSubscriptions,
    ],
    [
      'entity fetches served by users subgraph',
      (r) =>
        r.subgraphProcess.statsFrom === 'start'
          ? `${r.subgraphProcess.stats?.usersRequests} (before events; no answer at the end)`
          : r.subgraphProcess.stats?.usersRequests,
    ],
    ['client-load CPU % during events', (r) => r.clientProcesses.cpuEventsPct],
    [`machine CPU % busy (${cpus().length * 100} = all cores)`, (r) => r.machineCpu.busyPct],
    ['  of it Redis', (r) => r.machineCpu.redisPct],
    ['  of it neither bench nor Redis (kernel, other work)', (r) => r.machineCpu.outsideBenchPct],
    ['  kernel softirq (loopback networking)', (r) => r.machineCpu.softirqPct],
    [
      'gateway core busy % / machine steal %',
      (r) => `${r.machineCpu.gatewayCorePct} / ${r.machineCpu.stealPct}`,
    ],
  ];
  return markdownTable(
    ['metric', ...results.map((r) => r.gateway)],
    rows.map(([label, f]) => [label, ...results.map(f)]),
  );
}

export async function main(argv: string[]): Promise<void> {
  const opts = new Options(argv, spec);
  if (opts.help) {
    console.log(`npm run bench -- subscriptions [options]\n\n${description}\n\n${opts.usage()}`);
    return;
  }
  const gateways = opts.list('gateways', GATEWAYS);
  const clients = opts.number('clients', { min: 1, max: 50_000 });
  opts.number('rate', { min: 0.1, max: 1000 });
  opts.number('duration', { min: 1, max: 600 });
  const redisUrl = opts.string('redis-url');
  const sharedOption = opts.string('shared');
  if (sharedOption !== 'yes' && sharedOption !== 'no')
    throw new Error('--shared must be yes or no');
  const shared = sharedOption === 'yes';

  const run = await BenchRun.start('subscriptions', { idPrefix: 'subs', pin: opts.string('pin') });
  const { logDir, homeDir, runId, cpus: cpusPlan } = run;
  const placement = cpusPlan.rest
    ? `gateway pinned to CPU 0; subgraphs, client load and harness pinned to CPU ${cpusPlan.rest}; ` +
      'Redis (not started by the bench) and the kernel unpinned'
    : `no pinning: gateway, subgraphs, client load, harness and Redis share ${run.cpuCount} CPUs`;

  const results: GatewayResult[] = [];
  let pubsub: TypedPubSub<Record<string, TickEvent>> | undefined;
  try {
    // Keys shared by the router, Hive's config and the subgraphs.
    const keys = await loadKeyMaterial({ localFile: join(homeDir, 'keys.json') });
    const signer = createTokenSigner(keys.jwtKeys);
    log(`signing ${clients} access tokens`);
    const tokens: string[] = [];
    for (let i = 0; i < clients; i++) {
      tokens.push(
        (await signer.sign({ userId: `bench-user-${i}`, roles: ['USER'], scopes: [] }, 3600)).token,
      );
    }

    // One supergraph file for both gateways.
    const ports = { ticks: await freePort(), users: await freePort() };
    const sdl = subgraphSdls(shared);
    const { supergraphSdl } = composeSupergraph([
      { name: 'ticks', url: `http://127.0.0.1:${ports.ticks}/graphql`, typeDefs: sdl.ticks },
      { name: 'users', url: `http://127.0.0.1:${ports.users}/graphql`, typeDefs: sdl.users },
    ]);
    const supergraphPath = join(homeDir, 'supergraph.graphql');
    await writeFile(supergraphPath, supergraphSdl);

    pubsub = createPubSub<Record<string, TickEvent>>({ redisUrl, prefix: `bench:${runId}` });
    const ctx: RunContext = {
      opts,
      logDir,
      homeDir,
      supergraphPath,
      ports,
      tokens,
      redisUrl,
      runId,
      cpus: cpusPlan,
      shared,
    };
    log(placement);
    for (const g of gateways) {
      results.push(await runGateway(g, ctx, pubsub));
      await sleep(1000);
    }
  } finally {
    await pubsub?.close().catch(() => undefined);
    await rm(homeDir, { recursive: true, force: true });
  }

  const { machine, versions } = run.environment([
    '@apollo/gateway',
    '@apollo/server',
    '@graphql-hive/gateway',
    '@graphql-hive/gateway-runtime',
    'graphql-ws',
    'ws',
    'graphql',
  ]);
  const report = {
    benchmark: 'subscriptions',
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: opts.effective(),
    machine: { ...machine, redis: await redisVersion(redisUrl) },
    placement,
    versions,
    subscription: SUBSCRIPTION.replace(/\s+/g, ' ').trim(),
    results,
  };
  await run.save(report);

  const header =
    `## Subscriptions: ${clients} clients × ${opts.string('rate')} events/s × ${opts.string('duration')} s` +
    `${shared ? ' (ticks @shared)' : ' (ticks not @shared: per-caller upstreams in Arcadia)'}\n\n` +
    `${machine.cpus} × ${machine.cpuModel}, ${report.machine.memGiB} GiB, Node ${process.version}; ${placement}.\n` +
    `Hive Gateway ${report.versions['@graphql-hive/gateway']}; Arcadia router ${report.versions.arcadiaRouter} ` +
    `(@apollo/gateway ${report.versions['@apollo/gateway']}).\n`;
  console.log(`\n${header}\n${table(results)}\n`);
  for (const r of results) {
    const reasons = Object.entries(r.clients.reasons);
    if (reasons.length) {
      console.log(
        `${r.gateway}: client failures: ${reasons.map(([k, v]) => `${v}× ${k}`).join('; ')}`,
      );
    }
    if (r.events.sample)
      console.log(`${r.gateway}: sample of an error/invalid event: ${r.events.sample}`);
  }
  run.printFiles();
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

async function redisVersion(url: string): Promise<string> {
  try {
    const { Redis } = await import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const info = await redis.info('server');
    redis.disconnect();
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
