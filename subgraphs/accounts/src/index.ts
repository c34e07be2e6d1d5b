/**
 * Starts the accounts subgraph: `tsx subgraphs/accounts/src/index.ts`.
 * Configuration comes from the environment (see env.ts).
 */
import { join } from 'node:path';
import { loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parseAccountsEnv } from './env.js';
import { createServer } from './server.js';
import { openStore } from './store.js';

const config = parseAccountsEnv();
const logger = createLogger('accounts', config.LOG_LEVEL);
const keys = await loadKeyMaterial({
  jwtKeysJson: config.JWT_KEYS,
  internalSecrets: config.INTERNAL_SECRETS,
  localFile: join(config.ARCADIA_HOME, 'keys.json'),
});
const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
const server = createServer({ config, keys, store, logger });
await server.listen(config.PORT, config.HOST);
closeOnSignals(() => server.close(), logger);
