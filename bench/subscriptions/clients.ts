/**
 * Load generator for the subscriptions benchmark, run as a child process with
 * an IPC channel. It opens many WebSockets and speaks `graphql-transport-ws`
 * itself (connection_init → connection_ack → subscribe → next…), which costs
 * far less per socket than graphql-ws's `createClient`, and it reads the
 * sequence number and publish time of each event without parsing the whole
 * message, so that 100k messages/s cost the load generator as little CPU as
 * possible. The first event of every client is parsed fully and checked.
 *
 * Messages from the harness: `start`, `progress`, `report`, `close`; see
 * {@link ClientCommand}.
 */
import WebSocket from 'ws';

export interface StartCommand {
  type: 'start';
  url: string;
  /** One bearer token per client; their number is the number of clients. */
  tokens: string[];
  /** New connections per second, for this process. */
  connectRate: number;
  query: string;
  variables: Record<string, unknown>;
  /** Measured events the harness will publish (seq 0…measuredEvents-1). */
  measuredEvents: number;
}

export type ClientCommand =
  StartCommand | { type: 'progress' } | { type: 'report' } | { type: 'close' };

export interface ClientProgress {
  type: 'progress';
  attempted: number;
  opened: number;
  acked: number;
  subscribed: number;
  /** Clients that have received at least one warm-up event. */
  primed: number;
  /** Measured events received, duplicates included. */
  received: number;
  failed: number;
  /** Clients whose socket closed after they had been acked. */
  dropped: number;
}

export interface ClientReport extends Omit<ClientProgress, 'type'> {
  type: 'report';
  /** Distinct (client, seq) pairs received. */
  unique: number;
  duplicates: number;
  /** Events that arrived with a lower seq than one the client already had. */
  outOfOrder: number;
  /** Events whose payload carried GraphQL errors. */
  withErrors: number;
  /** First events that did not have the expected shape (author.name …). */
  invalid: number;
  /** Latency histogram: [bucket, count] with buckets of HIST_RES_MS. */
  histogram: [number, number][];
  maxLatencyMs: number;
  /** Receive times (epoch ms) of the first and last measured event. */
  firstReceiveAt: number;
  lastReceiveAt: number;
  /** Measured events received per wall-clock second: [epoch second, count]. */
  perSecond: [number, number][];
  /** Why clients failed or dropped, with counts. */
  reasons: Record<string, number>;
  /** One example of an error payload or invalid event, if any. */
  sample?: string;
}

/** Width of a latency histogram bucket. */
export const HIST_RES_MS = 0.1;
/** Latencies at or above this land in the last bucket (max stays exact). */
const HIST_MAX_MS = 120_000;
const HIST_BUCKETS = HIST_MAX_MS / HIST_RES_MS;

const now = () => performance.timeOrigin + performance.now();
const SEQ = Buffer.from('"seq":');
const SENT_AT = Buffer.from('"sentAt":');
const NEXT = Buffer.from('"type":"next"');
const ERRORS = Buffer.from('"errors"');

/**
 * The JSON number after `key` in `buf`, read straight from the bytes (no
 * string decoding: this runs for every message); NaN when absent.
 */
function numberAfter(buf: Buffer, key: Buffer): number {
  const at = buf.indexOf(key);
  if (at < 0) return NaN;
  let i = at + key.length;
  let end = i;
  while (end < buf.length) {
    const ch = buf[end]!;
    // digits, '-', '+', '.', 'e', 'E'
    if ((ch >= 48 && ch <= 57) || ch === 45 || ch === 43 || ch === 46 || ch === 101 || ch === 69)
      end++;
    else break;
  }
  if (end === i) return NaN;
  // Integers (seq) without allocating; anything else through Number().
  let n = 0;
  let negative = false;
  if (buf[i] === 45) {
    negative = true;
    i++;
  }
  for (let j = i; j < end; j++) {
    const ch = buf[j]!;
    if (ch < 48 || ch > 57) return Number(buf.toString('latin1', at + key.length, end));
    n = n * 10 + (ch - 48);
  }
  return negative ? -n : n;
}

interface ClientState {
  ws: WebSocket;
  acked: boolean;
  subscribed: boolean;
  primed: boolean;
  checked: boolean;
  lastSeq: number;
  /** Times each measured seq was received; allocated on subscribe. */
  seen?: Uint8Array;
}

function run(start: StartCommand) {
  const p: ClientProgress = {
    type: 'progress',
    attempted: 0,
    opened: 0,
    acked: 0,
    subscribed: 0,
    primed: 0,
    received: 0,
    failed: 0,
    dropped: 0,
  };
  let unique = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let withErrors = 0;
  let invalid = 0;
  let maxLatency = 0;
  let firstReceiveAt = 0;
  let lastReceiveAt = 0;
  let sample: string | undefined;
  let closing = false;
  const histogram = new Uint32Array(HIST_BUCKETS);
  const perSecond = new Map<number, number>();
  const reasons: Record<string, number> = {};
  const reason = (text: string) => {
    reasons[text] = (reasons[text] ?? 0) + 1;
  };
  const clients: ClientState[] = [];
  const init = JSON.stringify({ type: 'connection_init', payload: {} });
  const subscribe = JSON.stringify({
    id: '1',
    type: 'subscribe',
    payload: { query: start.query, variables: start.variables },
  });

  function onEvent(c: ClientState, buf: Buffer) {
    const at = now();
    const seq = numberAfter(buf, SEQ);
    const sentAt = numberAfter(buf, SENT_AT);
    const hasErrors = buf.indexOf(ERRORS) >= 0;
    if (hasErrors) {
      withErrors++;
      sample ??= buf.toString('utf8', 0, 500);
    }
    if (!Number.isFinite(seq)) {
      // An event whose data is null (errors) carries no seq: counted above, not received.
      if (!hasErrors) {
        invalid++;
        sample ??= buf.toString('utf8', 0, 500);
      }
      return;
    }
    if (!c.checked && !hasErrors) {
      c.checked = true;
      const text = buf.toString();
      try {
        const tick = (
          JSON.parse(text) as { payload?: { data?: { ticks?: Record<string, unknown> } } }
        ).payload?.data?.ticks;
        const author = tick?.author as { id?: unknown; name?: unknown } | undefined;
        if (typeof tick?.payload !== 'string' || typeof author?.name !== 'string') {
          invalid++;
          sample ??= text.slice(0, 500);
        }
      } catch {
        invalid++;
        sample ??= text.slice(0, 500);
      }
    }
    if (seq < 0) {
      if (!c.primed) {
        c.primed = true;
        p.primed++;
      }
      return;
    }
    p.received++;
    if (!firstReceiveAt) firstReceiveAt = at;
    lastReceiveAt = at;
    const second = Math.floor(at / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    if (c.seen && seq < c.seen.length) {
      if (c.seen[seq]! > 0) duplicates++;
      else unique++;
      if (c.seen[seq]! < 255) c.seen[seq]!++;
    }
    if (seq < c.lastSeq) outOfOrder++;
    c.lastSeq = Math.max(c.lastSeq, seq);
    const latency = at - sentAt;
    if (latency > maxLatency) maxLatency = latency;
    const bucket = Math.min(HIST_BUCKETS - 1, Math.max(0, Math.floor(latency / HIST_RES_MS)));
    histogram[bucket]!++;
  }

  function open(token: string) {
    p.attempted++;
    const ws = new WebSocket(start.url, 'graphql-transport-ws', {
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    const c: ClientState = {
      ws,
      acked: false,
      subscribed: false,
      primed: false,
      checked: false,
      lastSeq: -1,
    };
    clients.push(c);
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      if (c.acked) p.dropped++;
      else p.failed++;
      reason(why);
    };
    ws.on('open', () => {
      p.opened++;
      ws.send(
        token
          ? JSON.stringify({
              type: 'connection_init',
              payload: { authorization: `Bearer ${token}` },
            })
          : init,
      );
    });
    ws.on('message', (data: Buffer) => {
      if (data.length > 64 && data.indexOf(NEXT) >= 0) {
        onEvent(c, data);
        return;
      }
      const text = data.toString();
      let message: { type?: string; payload?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        reason('unparsable message');
        return;
      }
      switch (message.type) {
        case 'connection_ack':
          c.acked = true;
          p.acked++;
          c.seen = new Uint8Array(start.measuredEvents);
          ws.send(subscribe);
          c.subscribed = true;
          p.subscribed++;
          break;
        case 'next':
          onEvent(c, data);
          break;
        case 'ping':
          ws.send('{"type":"pong"}');
          break;
        case 'error':
          reason(`subscribe error: ${JSON.stringify(message.payload).slice(0, 200)}`);
          sample ??= text.slice(0, 500);
          break;
        case 'complete':
          reason('completed by server');
          break;
        default:
          break;
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      fail(`HTTP ${res.statusCode} on upgrade`);
      ws.terminate();
    });
    ws.on('error', (error: NodeJS.ErrnoException) => {
      fail(`socket error: ${error.code ?? error.message}`);
    });
    ws.on('close', (code, why) => {
      if (closing) return;
      fail(`closed ${code}${why.length ? ` ${why.toString().slice(0, 80)}` : ''}`);
    });
  }

  // Opens connections at `connectRate`, catching up every 10 ms.
  const t0 = performance.now();
  let next = 0;
  const opener = setInterval(() => {
    const due = Math.min(
      start.tokens.length,
      Math.floor(((performance.now() - t0) / 1000) * start.connectRate) + 1,
    );
    while (next < due) open(start.tokens[next++]!);
    if (next >= start.tokens.length) clearInterval(opener);
  }, 10);

  return {
    progress: () => p,
    report(): ClientReport {
      const hist: [number, number][] = [];
      for (let i = 0; i < histogram.length; i++) if (histogram[i]) hist.push([i, histogram[i]!]);
      return {
        ...p,
        type: 'report',
        unique,
        duplicates,
        outOfOrder,
        withErrors,
        invalid,
        histogram: hist,
        maxLatencyMs: maxLatency,
        firstReceiveAt,
        lastReceiveAt,
        perSecond: [...perSecond.entries()].sort((a, b) => a[0] - b[0]),
        reasons,
        ...(sample ? { sample } : {}),
      };
    },
    async close() {
      closing = true;
      clearInterval(opener);
      for (const c of clients) {
        if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000);
        else c.ws.terminate();
      }
      // Give close frames a moment, then drop whatever is left.
      await new Promise((r) => setTimeout(r, 500));
      for (const c of clients) c.ws.terminate();
    },
  };
}

if (process.send) {
  let load: ReturnType<typeof run> | undefined;
  process.on('message', (command: ClientCommand) => {
    switch (command.type) {
      case 'start':
        load = run(command);
        break;
      case 'progress':
        process.send!(load?.progress() ?? { type: 'progress' });
        break;
      case 'report':
        process.send!(load?.report());
        break;
      case 'close':
        void (load?.close() ?? Promise.resolve()).then(() => process.exit(0));
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'hello' });
}
