/**
 * Starts the accounts subgraph: `tsx subgraphs/accounts/src/index.ts`.
 * Configuration comes from the environment (see env.ts).
 */
import { runService } from '@arcadia/lifecycle';
import { createRedisConnection } from '@arcadia/redis';
import { parseAccountsEnv } from './env.js';
import { createServer } from './server.js';
import { openStore } from './store.js';

await runService({
  name: 'accounts',
  config: parseAccountsEnv,
  async start({ config, logger, keys }) {
    const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
    const redis = createRedisConnection({
      url: config.REDIS_URL,
      name: 'accounts-limits',
      use: 'commands',
      logger,
    });
    return createServer({ config, keys, store, logger, redis });
  },
});
