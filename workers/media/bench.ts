/**
 * Media pipeline benchmark: N 12-megapixel JPEGs through the whole pipeline
 * (presign, PUT to S3, complete, the worker in its own process, the READY
 * event through the router) against the same three resizes done by sharp
 * alone in one process on the same machine.
 *
 *   npx tsx workers/media/bench.ts [--images 24] [--clients 6] [--width 4000 --height 3000]
 *
 * Exports `description` and `main(argv)` in the shape `bench/run.ts` expects,
 * so `bench/media/index.ts` can re-export it for `npm run bench -- media`.
 * Needs the local services (`npm run services`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createClient } from 'graphql-ws';
import sharp from 'sharp';
import WebSocket from 'ws';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { mediaSubgraph, type MediaUnderTest } from '@arcadia/media/testing';
import {
  eventually,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import { render, VARIANT_SPECS, WEBP_QUALITY } from './src/images.js';

export const description =
  'image pipeline (presign, PUT, complete, worker, READY event) vs sharp alone';

interface Options {
  rounds: number;
  images: number;
  clients: number;
  width: number;
  height: number;
  concurrency: number;
}

function parse(argv: readonly string[]): Options {
  const options: Options = {
    rounds: 5,
    images: 24,
    clients: 6,
    width: 4000,
    height: 3000,
    concurrency: availableParallelism(),
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '') as keyof Options;
    if (argv[i] === '--help') {
      console.log(
        'options: --rounds N (5) --images N (24) --clients N (6) --width PX (4000) --height PX (3000) --concurrency N (cores)',
      );
      process.exit(0);
    }
    if (!(name in options)) throw new Error(`unknown option ${argv[i]}`);
    options[name] = Number(argv[++i]);
  }
  return options;
}

/** A photo-like JPEG: gradients plus noise, so it compresses like a camera's. */
async function photo(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let state = seed * 2654435761;
  for (let i = 0; i < raw.length; i += 3) {
    state = (state * 1103515245 + 12345) >>> 0;
    const noise = (state >>> 24) & 31;
    const x = (i / 3) % width;
    const y = Math.floor(i / 3 / width);
    raw[i] = ((x * 255) / width + noise + seed * 40) & 255;
    raw[i + 1] = ((y * 255) / height + noise) & 255;
    raw[i + 2] = ((x + y) / 16 + noise) & 255;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** CPU seconds used so far by the processes whose command name matches, from /proc (Linux). */
function cpuSeconds(match: (pid: number, comm: string) => boolean): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!match(pid, comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** CPU seconds of each part of the system, to see where a round's time went. */
function cpuByPart(workerPid: number | undefined): Record<string, number> {
  const self = process.cpuUsage();
  return {
    'this process (router, subgraphs, client, sharp alone)': (self.user + self.system) / 1e6,
    'media worker': workerPid ? cpuSeconds((pid) => pid === workerPid) : 0,
    'S3 (s3rver)': cpuSeconds((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('s3rver');
      } catch {
        return false;
      }
    }),
    PostgreSQL: cpuSeconds((_pid, comm) => comm.startsWith('postgres')),
    Redis: cpuSeconds((_pid, comm) => comm.startsWith('redis-server')),
  };
}

function cpuDelta(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!);
      }
    }),
  );
  return results;
}

/** The three resizes of the worker, with sharp alone. */
async function sharpAlone(originals: Buffer[], concurrency: number): Promise<number> {
  const started = performance.now();
  await pool(originals, concurrency, async (original) => {
    const base = sharp(original, { autoOrient: true, failOn: 'truncated' });
    await Promise.all(
      VARIANT_SPECS.map((spec) =>
        base
          .clone()
          .resize({
            width: spec.width,
            height: spec.height,
            fit: spec.fit,
            withoutEnlargement: true,
          })
          .webp({ quality: WEBP_QUALITY })
          .toBuffer(),
      ),
    );
  });
  return (performance.now() - started) / 1000;
}

/** The worker's own rendering (`render`, decoding once), alone: the pipeline minus everything else. */
async function renderAlone(originals: Buffer[], concurrency: number): Promise<number> {
  const started = performance.now();
  await pool(originals, concurrency, (original) => render(original, { maxPixels: 100_000_000 }));
  return (performance.now() - started) / 1000;
}

/** Accounts, media and a router in this process. */
type MediaHarness = SubgraphHarness<MediaUnderTest>;

/** The media worker in its own process, as `npm run up` starts it. */
async function startWorkerProcess(h: MediaHarness, concurrency: number): Promise<ChildProcess> {
  const entry = fileURLToPath(new URL('./src/index.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      DATABASE_URL: h.subject.config.DATABASE_URL,
      REDIS_URL: h.subject.config.REDIS_URL,
      QUEUE_PREFIX: h.subject.config.QUEUE_PREFIX,
      PUBSUB_PREFIX: h.subject.config.PUBSUB_PREFIX,
      S3_ORIGINALS_BUCKET: h.subject.config.S3_ORIGINALS_BUCKET,
      S3_PROCESSED_BUCKET: h.subject.config.S3_PROCESSED_BUCKET,
      MEDIA_CONCURRENCY: String(concurrency),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the worker did not start in 60 s')), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('media worker started')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.resume();
    child.once('exit', (code) => reject(new Error(`the worker exited (${code})`)));
  });
  return child;
}

/**
 * The client's upload, with node:http and the Buffer as it is: the uploading
 * device is not part of the system measured, so its share of the cores is
 * kept as small as a client can make it (fetch copies and re-chunks the body).
 */
function putObject(url: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'PUT', headers: { ...headers, 'content-length': String(body.length) }, agent },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
const agent = new Agent({ keepAlive: true });

const CREATE = `mutation ($input: CreateImageUploadInput!) {
  createImageUpload(input: $input) { uploadId uploadUrl headers } }`;
const COMPLETE = 'mutation ($id: ID!) { completeImageUpload(uploadId: $id) { status } }';
const UPDATED = 'subscription ($id: ID!) { imageUpdated(id: $id) { status } }';

async function pipeline(h: MediaHarness, user: TestUser, originals: Buffer[], clients: number) {
  const ws = createClient({
    url: h.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${user.token}` },
  });
  const latencies: number[] = [];
  const started = performance.now();
  await pool(originals, clients, async (original) => {
    const t0 = performance.now();
    const created = await h.request<{
      createImageUpload: { uploadId: string; uploadUrl: string; headers: Record<string, string> };
    }>(CREATE, {
      token: user.token,
      variables: {
        input: { filename: 'photo.jpg', contentType: 'image/jpeg', byteSize: original.length },
      },
    });
    const upload = created.data!.createImageUpload;
    const ready = new Promise<string>((resolve, reject) => {
      ws.subscribe<{ imageUpdated: { status: string } }>(
        { query: UPDATED, variables: { id: upload.uploadId } },
        {
          next: (value) => {
            const status = value.data?.imageUpdated.status;
            if (status === 'READY' || status === 'FAILED') resolve(status);
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    // graphql-ws does not acknowledge a subscription: it is live once its channel has a subscriber.
    const channel = h.subject.imageChannel(upload.uploadId);
    await eventually(async () => (await h.subscribers(channel)) > 0, {
      intervalMs: 5,
      what: `a subscriber of ${channel}`,
    });
    const status = await putObject(upload.uploadUrl, upload.headers, original);
    if (status !== 200) throw new Error(`PUT answered ${status}`);
    const completed = await h.request(COMPLETE, {
      token: user.token,
      variables: { id: upload.uploadId },
    });
    if (completed.errors) throw new Error(JSON.stringify(completed.errors));
    if ((await ready) !== 'READY') throw new Error('an image FAILED');
    latencies.push(performance.now() - t0);
  });
  const seconds = (performance.now() - started) / 1000;
  await ws.dispose();
  return { seconds, latencies: latencies.sort((a, b) => a - b) };
}

/** Runs the benchmark and prints markdown tables. */
export async function main(argv: string[]): Promise<void> {
  const options = parse(argv);
  const { images, clients, width, height, concurrency } = options;
  console.log(`generating 4 distinct ${width}×${height} JPEGs…`);
  const distinct = await Promise.all([1, 2, 3, 4].map((seed) => photo(width, height, seed)));
  const originals = Array.from({ length: images }, (_, i) => distinct[i % distinct.length]!);
  const megabytes = distinct.reduce((n, b) => n + b.length, 0) / distinct.length / 1e6;

  // As the worker sets them.
  sharp.concurrency(availableParallelism());
  sharp.cache(false);
  await sharpAlone(originals.slice(0, 2), concurrency); // warm-up

  const h = await startSubgraphHarness({
    subject: mediaSubgraph({ LOG_LEVEL: 'warn' }),
    peers: [accountsSubgraph()],
  });
  let worker: ChildProcess | undefined;
  try {
    worker = await startWorkerProcess(h, concurrency);
    const workerPid = worker.pid;
    const user = await h.signUp();
    await pipeline(h, user, originals.slice(0, 2), clients); // warm-up

    // Rounds alternate the three, so load from elsewhere on the machine hits all alike.
    const kinds = ['sharp alone', 'render() alone', 'pipeline'] as const;
    type Kind = (typeof kinds)[number];
    const rate: Record<Kind, number[]> = {
      'sharp alone': [],
      'render() alone': [],
      pipeline: [],
    };
    const cpu: Record<Kind, Record<string, number>> = {
      'sharp alone': {},
      'render() alone': {},
      pipeline: {},
    };
    const latencies: number[] = [];
    const measured = async (kind: Kind, run: () => Promise<number>) => {
      const before = cpuByPart(workerPid);
      const seconds = await run();
      const used = cpuDelta(before, cpuByPart(workerPid));
      for (const [part, value] of Object.entries(used)) {
        cpu[kind][part] = (cpu[kind][part] ?? 0) + value;
      }
      rate[kind].push(images / seconds);
    };
    for (let r = 0; r < options.rounds; r++) {
      await measured('sharp alone', () => sharpAlone(originals, concurrency));
      await measured('render() alone', () => renderAlone(originals, concurrency));
      await measured('pipeline', async () => {
        const run = await pipeline(h, user, originals, clients);
        latencies.push(...run.latencies);
        return run.seconds;
      });
    }

    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const percent = (a: number, b: number) => `${((a / b) * 100).toFixed(1)} %`;
    latencies.sort((a, b) => a - b);
    console.log(
      `\n${images} JPEGs of ${width}×${height} (${megabytes.toFixed(1)} MB each) per round, ` +
        `${options.rounds} rounds, ${availableParallelism()} cores, ` +
        `${concurrency} images at a time, ${clients} uploads in flight\n`,
    );
    console.log(
      '| round | sharp alone, images/s | render() alone, images/s | pipeline, images/s | pipeline / sharp alone |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (let r = 0; r < options.rounds; r++) {
      const [a, b, c] = kinds.map((k) => rate[k][r]!);
      console.log(
        `| ${r + 1} | ${a!.toFixed(2)} | ${b!.toFixed(2)} | ${c!.toFixed(2)} | ${percent(c!, a!)} |`,
      );
    }
    const [a, b, c] = kinds.map((k) => median(rate[k]));
    console.log(
      `| median | ${a!.toFixed(2)} | ${b!.toFixed(2)} | ${c!.toFixed(2)} | ${percent(c!, a!)} |`,
    );
    // Every image of every round over the time all rounds took: the steadiest summary.
    const overall = (k: Kind) => rate[k].length / rate[k].reduce((n, r) => n + 1 / r, 0);
    const [oa, ob, oc] = kinds.map(overall);
    console.log(
      `| all rounds | ${oa!.toFixed(2)} | ${ob!.toFixed(2)} | ${oc!.toFixed(2)} | ${percent(oc!, oa!)} |`,
    );
    console.log(
      `\nupload-to-READY latency (createImageUpload to the READY event), ${latencies.length} images: ` +
        `p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms`,
    );
    const perImage = (kind: Kind, part: string) =>
      (((cpu[kind][part] ?? 0) / (images * options.rounds)) * 1000).toFixed(0);
    console.log(`\n| CPU per image, ms | ${kinds.join(' | ')} |`);
    console.log(`| --- |${kinds.map(() => ' ---: |').join('')}`);
    for (const part of Object.keys(cpu.pipeline)) {
      console.log(`| ${part} | ${kinds.map((k) => perImage(k, part)).join(' | ')} |`);
    }
    const total = (kind: Kind) =>
      Object.values(cpu[kind]).reduce((n, v) => n + v, 0) / (images * options.rounds);
    console.log(`| total | ${kinds.map((k) => (total(k) * 1000).toFixed(0)).join(' | ')} |`);
  } finally {
    worker?.kill('SIGTERM');
    await new Promise((r) => (worker ? worker.once('exit', r) : r(undefined)));
    await h.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
