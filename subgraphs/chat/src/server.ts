import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import type { KeyMaterial } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { Presence } from '@arcadia/presence';
import type { PushDevices, PushNotifier } from '@arcadia/push';
import { createSubgraphServer, type SubgraphServer } from '@arcadia/subgraph-kit';
import type { UserDirectory } from './accounts-client.js';
import type { MessagingPolicy } from './domain/index.js';
import { createContext, type ChatContext } from './context.js';
import type { ChatConfig } from './env.js';
import type { ChatPubSub } from './events.js';
import { createChatMetrics } from './metrics.js';
import { resolvers } from './resolvers/index.js';
import type { Store } from './store/index.js';

/** The SDL, read next to the package so tests, tsx and composition use the same file. */
export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** What the chat subgraph is built from; `src/index.ts` opens them, tests make their own. */
export interface ChatServerDeps {
  readonly config: ChatConfig;
  readonly keys: KeyMaterial;
  readonly store: Store;
  readonly pubsub: ChatPubSub;
  readonly presence: Presence;
  readonly push: PushNotifier;
  readonly devices: PushDevices;
  readonly logger: Logger;
  /** Which user ids exist: accounts, asked over a signed internal call. */
  readonly users: UserDirectory;
  /** Who may message whom (social's blocks will answer it); everyone until then. */
  readonly canMessage?: MessagingPolicy;
}

/**
 * Builds the chat subgraph without listening, so tests can start it on a
 * free port. Closing it drains requests, then closes the push queue,
 * pub/sub and stores.
 */
export function createServer(deps: ChatServerDeps): SubgraphServer {
  const { keys, store, pubsub, push, logger } = deps;
  const metrics = createChatMetrics();
  return createSubgraphServer<ChatContext>({
    name: 'chat',
    typeDefs,
    // The generated types are stricter than @apollo/subgraph's resolver map.
    resolvers: resolvers as never,
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => createContext(base, { ...deps, metrics }),
    metrics: metrics.registry,
    readiness: () => store.ping(),
    async onClose() {
      await Promise.allSettled([push.close(), pubsub.close()]);
      await store.close();
    },
  });
}
