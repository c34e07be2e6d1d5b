/** What the chat domain is built from: server-wide dependencies, and those of one request. */
import type { Caller } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { Presence } from '@arcadia/presence';
import type { PushDevices, PushNotifier } from '@arcadia/push';
import type { ChatConfig } from '../env.js';
import type { ChatPubSub } from '../events.js';
import type { ChatMetrics } from '../metrics.js';
import type { ConversationRepository, Store } from '../store/index.js';
import type { ChatLoaders } from './loaders.js';

/**
 * Whether `senderId` may start a conversation with or message these users.
 * Always yes until the social subgraph's blocks exist; it will answer here.
 */
export type MessagingPolicy = (
  senderId: string,
  recipientIds: readonly string[],
) => Promise<boolean>;

/** Server-wide dependencies of the chat domain. */
export interface ChatDeps {
  readonly config: ChatConfig;
  readonly store: Store;
  readonly pubsub: ChatPubSub;
  readonly presence: Presence;
  readonly push: Pick<PushNotifier, 'notify'>;
  readonly devices: Pick<PushDevices, 'register' | 'unregister'>;
  readonly canMessage?: MessagingPolicy | undefined;
  readonly metrics: ChatMetrics;
}

/** What one request's chat works with. */
export interface RequestDeps extends ChatDeps {
  readonly repo: ConversationRepository;
  readonly loaders: ChatLoaders;
  readonly caller: Caller;
  readonly logger: Logger;
}
