/**
 * Runs the whole system in the foreground for local use: every subgraph
 * (`subgraphs/<name>/src/index.ts`), every worker (`workers/<queue>/src/index.ts`)
 * and the router, each in its own process with its output prefixed. Prints
 * the Sandbox URL once the router is ready; Ctrl-C stops everything cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const routerUrl = `http://localhost:${process.env.PORT ?? '4000'}`;

function entries(folder: string, file: string): { name: string; entry: string }[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, entry: join(dir, name, file) }))
    .filter((s) => existsSync(s.entry));
}

const services = [
  ...entries('subgraphs', 'src/index.ts'),
  ...entries('workers', 'src/index.ts').map((w) => ({ ...w, name: `${w.name}-worker` })),
  { name: 'router', entry: join(root, 'router/src/main.ts') },
];

const colours = [36, 35, 33, 32, 34, 31];
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefix(
  name: string,
  index: number,
  stream: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
) {
  const tag = `\x1b[${colours[index % colours.length]}m${name.padEnd(16)}\x1b[0m│ `;
  createInterface({ input: stream }).on('line', (line) => out.write(`${tag}${line}\n`));
}

services.forEach((service, index) => {
  const child = spawn(process.execPath, ['--import', 'tsx', service.entry], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(service.name, child);
  prefix(service.name, index, child.stdout, process.stdout);
  prefix(service.name, index, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(service.name);
    if (!stopping) {
      console.error(`${service.name} exited (${signal ?? code}); stopping everything.`);
      void stop(1);
    }
  });
});

async function waitForRouter(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !stopping) {
    try {
      if ((await fetch(`${routerUrl}/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the router did not become ready within 120 s');
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  const deadline = Date.now() + 15_000;
  while (children.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const child of children.values()) child.kill('SIGKILL');
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

waitForRouter().then(
  () => {
    if (!stopping) {
      console.log(
        `\n  Arcadia is up. Apollo Sandbox: ${routerUrl}/graphql  (Ctrl-C stops everything)\n`,
      );
    }
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    void stop(1);
  },
);
