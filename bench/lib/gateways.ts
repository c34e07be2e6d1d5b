/**
 * The gateways as the benchmarks run them, each a child `node` process in
 * the repository's root: the Arcadia router, and Hive Gateway's own CLI
 * with Arcadia's caller signing.
 */
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './run.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Hive Gateway's command line (after `node`, run in the repository's root)
 * serving `supergraphPath` on `port`, with the config that signs Arcadia's
 * caller header per fetch (bench/subscriptions/hive.config.ts).
 */
export function hiveGatewayArgs(supergraphPath: string, port: number): string[] {
  const bin = join(dirname(require.resolve('@graphql-hive/gateway/package.json')), 'dist/bin.js');
  return [
    '--import',
    'tsx',
    bin,
    'supergraph',
    supergraphPath,
    '--config-path',
    relative(repoRoot, join(here, '..', 'subscriptions', 'hive.config.ts')),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--fork',
    '1',
  ];
}

/** What the Arcadia router of a run needs to know. */
export interface ArcadiaRouterRun {
  /** ARCADIA_HOME: where the run's keys are. */
  homeDir: string;
  supergraphPath: string;
  redisUrl: string;
  /** Prefixes the router's Redis keys, so runs do not meet. */
  runId: string;
}

/**
 * The Arcadia router's command line (after `node`) and environment: on
 * 127.0.0.1:`port`, in production mode, with `env` added to (or overriding)
 * those settings.
 */
export function arcadiaRouterCommand(
  run: ArcadiaRouterRun,
  port: number,
  env: Record<string, string> = {},
): { args: string[]; env: Record<string, string> } {
  return {
    args: ['--import', 'tsx', 'router/src/main.ts'],
    env: {
      ARCADIA_HOME: run.homeDir,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      SUPERGRAPH_PATH: run.supergraphPath,
      REDIS_URL: run.redisUrl,
      REDIS_KEY_PREFIX: `bench:${run.runId}:router:`,
      // A router from `npm run up` may hold the default metrics port.
      METRICS_PORT: '0',
      ...env,
    },
  };
}
