import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import type { KeyMaterial } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { TypedQueue } from '@arcadia/queues';
import { createSubgraphServer, type SubgraphServer } from '@arcadia/subgraph-kit';
import { createContext, type MediaContext } from './context.js';
import type { MediaConfig } from './env.js';
import type { MediaPubSub } from './events.js';
import { resolvers } from './resolvers/index.js';
import type { MediaStorage } from './storage.js';
import type { Store } from './store.js';

/** The SDL, read next to the package so tests, tsx and composition use the same file. */
export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** What the media subgraph is built from; `src/index.ts` opens them, tests make their own. */
export interface MediaServerDeps {
  readonly config: MediaConfig;
  readonly keys: KeyMaterial;
  readonly store: Store;
  readonly storage: MediaStorage;
  readonly queue: TypedQueue<'media'>;
  readonly pubsub: MediaPubSub;
  readonly logger: Logger;
}

/**
 * Builds the media subgraph without listening, so tests can start it on a
 * free port. Closing it drains requests, then closes the queue, pub/sub,
 * storage and store.
 */
export function createServer(deps: MediaServerDeps): SubgraphServer {
  const { config, keys, store, storage, queue, pubsub, logger } = deps;
  const contextDeps = { config, store, storage, queue, pubsub };
  return createSubgraphServer<MediaContext>({
    name: 'media',
    typeDefs,
    // The generated types are stricter than @apollo/subgraph's resolver map.
    resolvers: resolvers as never,
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => createContext(base, contextDeps),
    readiness: async () => {
      await Promise.all([store.ping(), storage.ping()]);
    },
    async onClose() {
      await Promise.allSettled([queue.close(), pubsub.close()]);
      storage.close();
      await store.close();
    },
  });
}
