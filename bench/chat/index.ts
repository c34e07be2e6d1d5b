/**
 * `npm run bench -- chat`: K conversations whose members are all online on
 * graphql-ws through the router, under sustained sends. Reports messages
 * persisted per second, send and send-to-delivery latency, history page
 * latency, and messages lost or duplicated (which must be 0): every accepted
 * message is checked in Cassandra (through `messages`) and at each recipient.
 *
 * Everything runs on this machine: router, accounts and chat in this
 * process, with PostgreSQL, Redis and Cassandra beside it (`npm run services`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Options } from '../lib/args.js';
import { markdownTable, round } from '../lib/stats.js';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { chatSubgraph, type ChatUnderTest } from '@arcadia/chat/testing';
import { startSubgraphHarness, type SubgraphHarness, type TestUser } from '@arcadia/testing';

export const description =
  'chat: sustained sends to online users over graphql-ws (throughput, delivery latency, history, loss)';

const spec = {
  conversations: { description: 'conversations (DIRECT pairs)', default: '50' },
  rate: { description: 'messages sent per second, over all conversations', default: '200' },
  duration: { description: 'seconds of sending', default: '20' },
  inflight: { description: 'most sends in flight at once', default: '64' },
  'history-samples': { description: 'history pages fetched after the run', default: '300' },
  'in-process': {
    description: 'run the chat subgraph in this process instead of its own',
    flag: true,
  },
  profile: {
    description:
      'CPU profiles into bench/results/logs/chat-<time>/: the chat process (whole life) and this one (send phase)',
    flag: true,
  },
};

/** `bench/results/logs/chat-<time>`: where `--profile` writes. */
function profileDir(): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../results/logs', `chat-${stamp}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * CLOCK_MONOTONIC in microseconds: the clock `.cpuprofile` sample times are
 * on, in every process of this machine, so the send phase can be cut out of
 * the chat process' whole-life profile (see bench/lib/profile-summary.ts).
 */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** CPU seconds of processes whose /proc cmdline or name matches. */
function cpuSeconds(match: (cmdline: string, comm: string) => boolean): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!match(cmdline, comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** CPU seconds the whole machine spent busy (every process, also other people's). */
function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

function cpuByPart(): Record<string, number> {
  const self = process.cpuUsage();
  return {
    'whole machine (other runs on it included)': machineCpuSeconds(),
    'this process (router, accounts, clients; chat too with --in-process)':
      (self.user + self.system) / 1e6,
    'chat subgraph process': cpuSeconds((cmd) => cmd.includes('subgraphs/chat/src/index.ts')),
    Cassandra: cpuSeconds((cmd) => cmd.includes('CassandraDaemon')),
    Redis: cpuSeconds((_c, comm) => comm.startsWith('redis-server')),
    PostgreSQL: cpuSeconds((_c, comm) => comm.startsWith('postgres')),
  };
}

const SEND = `mutation ($c: ID!, $t: String!, $k: ID!) {
  sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id } }`;
const EVENTS = `subscription { chatEvents { __typename
  ... on MessageAdded { message { id clientMessageId sender { id } } } } }`;
const HISTORY = `query ($id: ID!, $before: ID) { conversation(id: $id) {
  messages(first: 50, before: $before) { edges { node { id clientMessageId text createdAt sender { id } } }
  pageInfo { hasNextPage endCursor } } } }`;

interface Pair {
  id: string;
  users: [TestUser, TestUser];
}

/** Runs the benchmark and prints markdown tables. */
export async function main(argv: string[]): Promise<void> {
  const options = new Options(argv, spec);
  if (options.help) {
    console.log(`${description}\n\n${options.usage()}`);
    return;
  }
  const K = options.number('conversations', { min: 1 });
  const rate = options.number('rate', { min: 1 });
  const duration = options.number('duration', { min: 1 });
  const inflightMax = options.number('inflight', { min: 1 });
  const historySamples = options.number('history-samples', { min: 0 });

  const inProcess = options.flag('in-process');
  const profiles = options.flag('profile') ? profileDir() : null;
  const h: SubgraphHarness<ChatUnderTest> = await startSubgraphHarness({
    subject: chatSubgraph(
      {
        LOG_LEVEL: 'warn',
        CHAT_SEND_LIMIT: '1000000',
        PUSH_COLLAPSE_WINDOW_MS: '60000',
        // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preload does the same (see the file).
        // Written when the process exits (the harness stops it with SIGTERM, it exits cleanly).
        ...(profiles && !inProcess
          ? {
              NODE_OPTIONS: `--import ${fileURLToPath(new URL('./cpu-profile-preload.mjs', import.meta.url))}`,
              BENCH_CPU_PROFILE: join(profiles, 'chat.cpuprofile'),
            }
          : {}),
      },
      { childProcess: !inProcess },
    ),
    peers: [accountsSubgraph()],
    // Every client connects from 127.0.0.1: 2K sockets plus HTTP, over the per-client cap.
    routerEnv: { MAX_CONNECTIONS_PER_CLIENT: '0' },
  });
  try {
    console.log(`signing up ${2 * K} users and starting ${K} conversations…`);
    const users: TestUser[] = [];
    for (let i = 0; i < 2 * K; i++) users.push(await h.signUp());
    const pairs: Pair[] = [];
    for (let i = 0; i < K; i++) {
      const [a, b] = [users[2 * i]!, users[2 * i + 1]!];
      const r = await h.request<{ startConversation: { id: string } }>(
        'mutation ($ids: [ID!]!) { startConversation(memberIds: $ids) { id } }',
        { token: a.token, variables: { ids: [b.id] } },
      );
      pairs.push({ id: r.data!.startConversation.id, users: [a, b] });
    }

    // Every user online with a chatEvents subscription.
    const sentAt = new Map<string, number>(); // clientMessageId → send start
    const delivered = new Map<string, number>(); // clientMessageId → deliveries to the recipient
    const deliveryMs: number[] = [];
    let eventErrors = 0;
    for (const user of users) {
      const client = h.connect(user);
      client.subscribe<{
        chatEvents: { message?: { clientMessageId: string; sender: { id: string } } };
      }>(
        { query: EVENTS },
        {
          next: ({ data, errors }) => {
            if (errors) eventErrors++;
            const message = data?.chatEvents.message;
            if (!message || message.sender.id === user.id) return;
            const key = message.clientMessageId;
            delivered.set(key, (delivered.get(key) ?? 0) + 1);
            const t0 = sentAt.get(key);
            if (t0 !== undefined && delivered.get(key) === 1)
              deliveryMs.push(performance.now() - t0);
          },
          error: () => eventErrors++,
          complete: () => undefined,
        },
      );
    }
    const channels = users.map((u) => h.subject.userChannel(u.id));
    for (let i = 0; i < 600; i++) {
      const counts = (await h.subject.store.live.redis.pubsub('NUMSUB', ...channels)) as (
        string | number
      )[];
      const live = counts.filter((_, j) => j % 2 === 1).filter((n) => Number(n) > 0).length;
      if (live === users.length) break;
      if (i === 599) throw new Error(`only ${live} of ${users.length} subscriptions went live`);
      await sleep(50);
    }
    // Warm-up, not measured: JIT, prepared statements, connection pools.
    await Promise.all(
      pairs.map(async (pair) => {
        for (const sender of [...pair.users, ...pair.users]) {
          await h.request(SEND, {
            token: sender.token,
            variables: { c: pair.id, t: 'warm-up', k: randomUUID() },
          });
        }
      }),
    );
    await sleep(1000);
    console.log(`${users.length} users online; sending ${rate} messages/s for ${duration} s…`);

    // Open-loop sends at `rate`, at most `inflight` at once.
    const sendMs: number[] = [];
    const accepted = new Map<string, string>(); // clientMessageId → conversation
    let failed = 0;
    let skipped = 0;
    let inflight = 0;
    const pending = new Set<Promise<void>>();
    // This process is profiled over the send phase only: set-up and checks are not the subject.
    const profiler = profiles ? new Session() : null;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const cpuBefore = cpuByPart();
    const window = { startMicros: monotonicMicros(), endMicros: 0 };
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < duration * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      while (n < due) {
        const pair = pairs[n % K]!;
        const sender = pair.users[Math.floor(n / K) % 2]!;
        n++;
        if (inflight >= inflightMax) {
          skipped++;
          continue;
        }
        const key = randomUUID();
        inflight++;
        const t0 = performance.now();
        sentAt.set(key, t0);
        const p = h
          .request<{ sendMessage: { id: string } }>(SEND, {
            token: sender.token,
            variables: { c: pair.id, t: `message ${n} ${'x'.repeat(40)}`, k: key },
          })
          .then((r) => {
            if (r.data?.sendMessage) {
              accepted.set(key, pair.id);
              sendMs.push(performance.now() - t0);
            } else failed++;
          })
          .catch(() => {
            failed++;
          })
          .finally(() => {
            inflight--;
            pending.delete(p);
          });
        pending.add(p);
      }
      await sleep(2);
    }
    await Promise.all(pending);
    const sendSeconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuByPart();
    window.endMicros = monotonicMicros();
    if (profiler && profiles) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      writeFileSync(join(profiles, 'bench-send-phase.cpuprofile'), JSON.stringify(profile));
      writeFileSync(join(profiles, 'send-phase.json'), JSON.stringify(window));
    }
    // Late deliveries count as delivered, up to 10 s.
    for (let i = 0; i < 200 && [...accepted.keys()].some((k) => !delivered.has(k)); i++)
      await sleep(50);

    // Persisted: every accepted message is in its conversation's history, once.
    const persisted = new Map<string, number>();
    for (const pair of pairs) {
      let before: string | null = null;
      for (;;) {
        const r: { data?: any } = await h.request<any>(HISTORY, {
          token: pair.users[0].token,
          variables: { id: pair.id, before },
        });
        const page: {
          edges: { node: { clientMessageId: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        } = r.data.conversation.messages;
        for (const e of page.edges) {
          persisted.set(e.node.clientMessageId, (persisted.get(e.node.clientMessageId) ?? 0) + 1);
        }
        if (!page.pageInfo.hasNextPage) break;
        before = page.pageInfo.endCursor;
      }
    }
    const lostInStore = [...accepted.keys()].filter((k) => !persisted.has(k)).length;
    const duplicatedInStore = [...persisted.values()].filter((c) => c > 1).length;
    const notDelivered = [...accepted.keys()].filter((k) => !delivered.has(k)).length;
    const deliveredTwice = [...delivered.values()].filter((c) => c > 1).length;

    // History: newest page of random conversations, a few at a time.
    const historyMs: number[] = [];
    let h0 = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (h0 < historySamples) {
          h0++;
          const pair = pairs[Math.floor(Math.random() * K)]!;
          const t0 = performance.now();
          const r = await h.request<any>(HISTORY, {
            token: pair.users[1].token,
            variables: { id: pair.id, before: null },
          });
          if (!r.data?.conversation) throw new Error(JSON.stringify(r.errors));
          historyMs.push(performance.now() - t0);
        }
      }),
    );

    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    const [send, delivery, history] = [sorted(sendMs), sorted(deliveryMs), sorted(historyMs)];
    console.log(
      `\n${K} conversations, ${users.length} users online, ${rate} msgs/s offered for ${duration} s, ` +
        `${availableParallelism()} cores, at most ${inflightMax} sends in flight, ` +
        `chat subgraph ${inProcess ? 'in the router process' : 'in its own process'}\n`,
    );
    console.log(
      markdownTable(
        ['measure', 'value'],
        [
          ['messages offered', n],
          ['accepted (persisted before the answer)', accepted.size],
          ['not sent (in-flight cap reached)', skipped],
          ['failed sends', failed],
          ['messages/s persisted', round(accepted.size / sendSeconds, 1)],
          [
            'send latency p50 / p99 (mutation round trip)',
            `${round(quantile(send, 0.5))} / ${round(quantile(send, 0.99))} ms`,
          ],
          [
            'send-to-delivery p50 / p99',
            `${round(quantile(delivery, 0.5))} / ${round(quantile(delivery, 0.99))} ms`,
          ],
          [
            `history page of 50, p50 / p99 (${history.length} pages)`,
            `${round(quantile(history, 0.5))} / ${round(quantile(history, 0.99))} ms`,
          ],
          ['accepted but missing from history (lost)', lostInStore],
          ['duplicated in history', duplicatedInStore],
          ['accepted but never delivered live', notDelivered],
          ['delivered twice', deliveredTwice],
          ['subscription errors', eventErrors],
        ],
      ),
    );
    console.log(
      '\n' +
        markdownTable(
          ['CPU during the send phase', 'cores used'],
          Object.keys(cpuAfter).map((part) => [
            part,
            round((cpuAfter[part]! - cpuBefore[part]!) / sendSeconds, 2),
          ]),
        ),
    );
  } finally {
    await h.stop();
  }
  if (profiles) {
    const at = relative(process.cwd(), profiles);
    console.log(
      `\nprofiles in ${at}: bench-send-phase.cpuprofile (this process, send phase), ` +
        `chat.cpuprofile (chat process, whole life; send-phase.json is the window)\n` +
        `summary: npx tsx bench/lib/profile-summary.ts ${at}/chat.cpuprofile --window ${at}/send-phase.json`,
    );
  }
}
