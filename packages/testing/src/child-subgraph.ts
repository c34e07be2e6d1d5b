import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { DocumentNode } from 'graphql';
import type { StartableSubgraph } from './supergraph.js';

/** A free TCP port on 127.0.0.1 (closed again, so a child can take it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A subgraph run as its own Node process from its start-up file, as `npm run
 * up` runs it: for benchmarks that should not measure the router and the
 * subgraph on one event loop. `env` is its whole configuration (PORT and
 * HOST are set here); it must log "<name> subgraph listening" when ready.
 */
export function childSubgraph(options: {
  name: string;
  typeDefs: DocumentNode;
  /** Path of the subgraph's `src/index.ts`. */
  entry: string;
  env: Record<string, string | undefined>;
}): StartableSubgraph & { readonly pid: () => number | undefined } {
  let child: ChildProcess | undefined;
  return {
    name: options.name,
    // For composition only: the schema's shape, resolved by the child.
    schema: buildSubgraphSchema({ typeDefs: options.typeDefs }),
    pid: () => child?.pid,
    async listen(port) {
      const chosen = port || (await freePort());
      const started = spawn(process.execPath, ['--import', 'tsx', options.entry], {
        env: {
          ...options.env,
          PORT: String(chosen),
          HOST: '127.0.0.1',
          METRICS_PORT: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      let output = '';
      started.stderr.on(
        'data',
        (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${options.name} did not start: ${output}`)),
          60_000,
        );
        createInterface({ input: started.stdout }).on('line', (line) => {
          output = (output + line + '\n').slice(-4000);
          if (line.includes(`${options.name} subgraph listening`)) {
            clearTimeout(timer);
            resolve();
          }
        });
        started.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${options.name} exited (${code}): ${output}`));
        });
      });
      return `http://127.0.0.1:${chosen}/graphql`;
    },
    async close() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
