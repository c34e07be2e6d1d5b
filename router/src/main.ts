/**
 * Starts the router: `tsx router/src/main.ts`. Configuration comes from the
 * environment (see env.ts); the supergraph from SUPERGRAPH_PATH.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parseRouterEnv } from './env.js';
import { createRouter } from './server.js';

const config = parseRouterEnv(process.env);
const logger = createLogger('router', config.LOG_LEVEL);

// One failed request must not take every other in-flight request down with
// the process: log loudly and keep serving; /health and the orchestrator
// still see a live process, and the log shows what to fix.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection');
});
process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception');
});

let supergraphSdl: string;
try {
  supergraphSdl = await readFile(config.SUPERGRAPH_PATH, 'utf8');
} catch (error) {
  logger.fatal(
    { err: error, path: config.SUPERGRAPH_PATH },
    'cannot read the supergraph; run `npm run compose` or set SUPERGRAPH_PATH',
  );
  process.exit(1);
}
const keys = await loadKeyMaterial({
  jwtKeysJson: config.JWT_KEYS,
  internalSecrets: config.INTERNAL_SECRETS,
  localFile: join(config.ARCADIA_HOME, 'keys.json'),
});
const router = await createRouter({ config, supergraphSdl, keys, logger });
const url = await router.listen(config.PORT, config.HOST);
closeOnSignals(() => router.close(), logger);
// Plain stdout, for the human who just ran `npm run up`.
console.log(`Arcadia router ready: open ${url} for Apollo Sandbox`);
