/**
 * Runs the whole system in the foreground for local use: every subgraph
 * (`subgraphs/<name>/src/index.ts`), every worker (`workers/<queue>/src/index.ts`),
 * the router and the web console's dev server (`apps/console`, Vite on 5173),
 * each in its own process with its output prefixed. Prints the Sandbox and
 * console URLs once the router is ready. A process that crashes is
 * restarted with back-off (`lib/supervisor.ts`); Ctrl-C stops everything.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { superviseProcesses, type SupervisedService } from './lib/supervisor.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const routerUrl = `http://localhost:${process.env.PORT ?? '4000'}`;
const consoleDir = join(root, 'apps/console');
const consoleUrl = 'http://localhost:5173';

function entries(folder: string, file: string): { name: string; entry: string }[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, entry: join(dir, name, file) }))
    .filter((s) => existsSync(s.entry));
}

const services: SupervisedService[] = [
  ...entries('subgraphs', 'src/index.ts'),
  ...entries('workers', 'src/index.ts').map((w) => ({ ...w, name: `${w.name}-worker` })),
  { name: 'router', entry: join(root, 'router/src/main.ts') },
].map(({ name, entry }) => ({
  name,
  command: process.execPath,
  args: ['--import', 'tsx', entry],
  cwd: root,
  env: process.env,
}));

if (existsSync(join(consoleDir, 'vite.config.ts'))) {
  services.push({
    name: 'console',
    command: process.execPath,
    args: [join(root, 'node_modules/vite/bin/vite.js'), '--port', '5173', '--strictPort'],
    cwd: consoleDir,
    // The console finds the router on port 4000 of the host it was loaded
    // from; only another PORT needs saying.
    env:
      process.env.PORT && !process.env.VITE_ARCADIA_URL
        ? { ...process.env, VITE_ARCADIA_URL: `${routerUrl}/graphql` }
        : process.env,
  });
}

const colours = [36, 35, 33, 32, 34, 31];
const tags = new Map(
  services.map((s, index) => [
    s.name,
    `\x1b[${colours[index % colours.length]}m${s.name.padEnd(16)}\x1b[0m│ `,
  ]),
);

function prefix(tag: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) {
  createInterface({ input: stream }).on('line', (line) => out.write(`${tag}${line}\n`));
}

const supervisor = superviseProcesses({
  services,
  onStart(service, child) {
    const tag = tags.get(service.name)!;
    prefix(tag, child.stdout!, process.stdout);
    prefix(tag, child.stderr!, process.stderr);
  },
  // Under the crashed service's own tag, so it reads in line with its last words.
  log: (message, service) => process.stderr.write(`${tags.get(service.name)!}${message}\n`),
});

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  void supervisor.stop().then(() => process.exit(code));
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

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

waitForRouter().then(
  () => {
    if (!stopping) {
      const web = services.some((s) => s.name === 'console')
        ? `\n  Console:        ${consoleUrl}`
        : '';
      console.log(
        `\n  Arcadia is up (Ctrl-C stops everything).\n  Apollo Sandbox: ${routerUrl}/graphql${web}\n`,
      );
    }
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    stop(1);
  },
);
