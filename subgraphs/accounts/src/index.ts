/**
 * Starts the accounts subgraph: `tsx subgraphs/accounts/src/index.ts`.
 * Configuration comes from the environment (see env.ts).
 */
import { runService } from '@arcadia/lifecycle';
import { parseAccountsEnv } from './env.js';
import { createServer } from './server.js';
import { openStore } from './store.js';

await runService({
  name: 'accounts',
  config: parseAccountsEnv,
  async start({ config, logger, keys }) {
    const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
    return createServer({ config, keys, store, logger });
  },
});
