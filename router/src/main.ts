/**
 * Starts the router: `tsx router/src/main.ts`. Configuration comes from the
 * environment (see env.ts); the supergraph from SUPERGRAPH_PATH.
 */
import { readFile } from 'node:fs/promises';
import { runService } from '@arcadia/lifecycle';
import { parseRouterEnv } from './env.js';
import { createRouter } from './server.js';

await runService({
  name: 'router',
  config: parseRouterEnv,
  async start({ config, logger, keys }) {
    const supergraphSdl = await readFile(config.SUPERGRAPH_PATH, 'utf8').catch((error: unknown) => {
      throw new Error(
        `cannot read the supergraph at ${config.SUPERGRAPH_PATH}; run \`npm run compose\` or set SUPERGRAPH_PATH`,
        { cause: error },
      );
    });
    return createRouter({ config, supergraphSdl, keys, logger });
  },
  // Plain stdout, for the human who just ran `npm run up`.
  banner: (url) => `Arcadia router ready: open ${url} for Apollo Sandbox`,
});
