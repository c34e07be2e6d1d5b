import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import {
  createTestDatabase,
  eventually,
  freePort,
  uniqueName,
  type TestDatabase,
} from '@arcadia/testing';
import { repoRoot } from '../build-references.js';

// Production runs `node --conditions=compiled <workspace>/dist/<entry>.js`
// (the Dockerfile's NODE_OPTIONS): package exports lead to dist/*.js instead
// of the TypeScript sources, and files read through import.meta.url
// (schema.graphql, lua/, the supergraph) must be found from dist/ too. These
// tests build as CI and the image do, then start compiled processes against
// the local services, each on a free port.

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// Node 22.18+ and 24 run .ts files by themselves: a package export without
// its `compiled` condition would quietly load TypeScript source here, and
// fail in the image, which has no sources. Turned off, it fails here too.
const noTypeStripping = 'typescript' in process.features ? ['--no-experimental-strip-types'] : [];
const { REDIS_URL } = parseEnv('compiled-build-test', servicesEnv.redis);

interface Compiled {
  readonly url: string;
  readonly output: () => string;
}

const children: ChildProcess[] = [];
/** Redis key prefixes the processes wrote under, removed afterwards. */
const prefixes: string[] = [];
const prefix = () => {
  const name = uniqueName('compiled');
  prefixes.push(name);
  return name;
};
const scratch = mkdtempSync(join(tmpdir(), 'arcadia-compiled-'));
let database: TestDatabase | undefined;

afterAll(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  await database?.drop();
  rmSync(scratch, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  try {
    for (const name of prefixes) {
      const keys: string[] = [];
      for await (const batch of redis.scanStream({ match: `${name}*`, count: 500 }))
        keys.push(...(batch as string[]));
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
});

/** Starts `<entry>` (relative to the root) as production does and waits for its /health. */
async function startCompiled(entry: string, env: Record<string, string>): Promise<Compiled> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...noTypeStripping, '--conditions=compiled', entry], {
    cwd: repoRoot,
    env: {
      ...env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = false;
  child.once('exit', () => (exited = true));
  await eventually(async () => {
    if (exited) throw new Error(`${entry} exited (${child.exitCode}):\n${output}`);
    const response = await fetch(`${url}/health`).catch(() => undefined);
    return response?.ok;
  }, 60_000).catch((error: unknown) => {
    throw new Error(`${entry} did not answer /health:\n${output}`, { cause: error });
  });
  return { url, output: () => output };
}

/** Runs a compiled command to its end; resolves to its exit code and output. */
async function run(entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [...noTypeStripping, '--conditions=compiled', entry, ...args],
    {
      cwd: repoRoot,
      env: { ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('the production build', () => {
  beforeAll(async () => {
    // Incremental: quick when CI's `npm run build` (or an earlier run) is up to date.
    const build = spawn(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    build.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    build.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => build.once('exit', resolve));
    if (code !== 0) throw new Error(`npm run build failed:\n${output}`);
  }, 300_000);

  it('runs the compiled accounts subgraph behind the compiled router, and its CLI', async () => {
    database = await createTestDatabase('compiled');
    // Both read (and the first one writes) the generated keys in ARCADIA_HOME.
    const shared = { ARCADIA_HOME: scratch, REDIS_URL };
    const accounts = await startCompiled('subgraphs/accounts/dist/index.js', {
      ...shared,
      DATABASE_URL: database.url,
    });
    const router = await startCompiled('router/dist/main.js', {
      ...shared,
      SUBGRAPH_URLS: `accounts=${accounts.url}/graphql`,
      REDIS_KEY_PREFIX: `${prefix()}:`,
      PRESENCE_PREFIX: `${prefix()}:`,
    });

    // Through the router to the subgraph: its schema.graphql, migrations,
    // argon2 (a native addon) and the signed caller header, all from dist/.
    const handle = `c${Date.now().toString(36)}`;
    const response = await fetch(`${router.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation ($input: SignUpInput!) { signUp(input: $input) { user { handle } } }`,
        variables: {
          input: {
            handle,
            email: `${handle}@example.com`,
            password: 'correct horse battery',
            displayName: 'Compiled',
          },
        },
      }),
    });
    const body = (await response.json()) as unknown;
    expect(body, router.output() + accounts.output()).toEqual({
      data: { signUp: { user: { handle } } },
    });

    // The operator's CLI, compiled too: the first ADMIN of a deployment.
    const cli = await run(
      'subgraphs/accounts/dist/cli/grant-role.js',
      [`${handle}@example.com`, 'ADMIN'],
      {
        DATABASE_URL: database.url,
      },
    );
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(new RegExp(`^${handle} \\(.+\\) now holds .*ADMIN`, 'm'));
  }, 120_000);

  it('runs the compiled push worker, which serves /health on its PORT', async () => {
    const worker = await startCompiled('workers/push/dist/index.js', {
      REDIS_URL,
      QUEUE_PREFIX: prefix(),
      PUSH_PREFIX: `${prefix()}:`,
    });
    const health = await fetch(`${worker.url}/health`);
    expect(health.status, worker.output()).toBe(200);
  }, 120_000);
});
