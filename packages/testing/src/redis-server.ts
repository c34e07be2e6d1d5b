import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A redis-server process of a test's own, so it can be stopped, restarted or cut off. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`; the same across restarts. */
  readonly url: string;
  readonly port: number;
  /** The data directory (AOF, RDB), kept across restarts. */
  readonly dir: string;
  /** Stops the server (SIGTERM: AOF flushed, as a clean shutdown does). */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

/** Options of {@link startPrivateRedis}; the defaults are those of `npm run services`. */
export interface PrivateRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'no']`. */
  args?: string[];
}

/** A TCP port free on 127.0.0.1 right now, for a process that cannot listen on port 0 itself. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`redis-server on ${url} did not answer in ${timeoutMs} ms`, {
          cause: error,
        });
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a `redis-server` of its own on a free port with a temporary data
 * directory, configured like the project's (AOF with `appendfsync everysec`,
 * `noeviction`), for tests that restart or drop Redis: doing that to the
 * shared server would break every other test file running at the same time.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'arcadia-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    // Persistence as the project runs Redis: keep these flags in sync with
    // REDIS_PERSISTENCE_ARGS in scripts/services/services.sh (and the redis
    // command in docker-compose.yml), so a restart test shows what production does.
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    ...(options.args ?? []),
  ];

  async function start() {
    if (child) throw new Error('the private redis-server is already running');
    const started = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      started.once('exit', (code) =>
        reject(new Error(`redis-server exited (${code}) before answering: ${stderr}`)),
      ),
    );
    exited.catch(() => {});
    child = started;
    await Promise.race([waitForPing(url, 10_000), exited]);
  }

  async function halt(signal: NodeJS.Signals) {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  }

  await start();
  return {
    url,
    port,
    dir,
    start,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async dispose() {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
