/** What the chat domain is built from: server-wide dependencies, and those of one request. */
import type { Caller } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { Presence } from '@arcadia/presence';
import type { PushDevices, PushNotifier } from '@arcadia/push';
import type { UserDirectory } from '../accounts-client.js';
import type { ChatConfig } from '../env.js';
import type { ChatPubSub } from '../events.js';
import type { ChatMetrics } from '../metrics.js';
import type { ConversationRepository, Store } from '../store/index.js';
import type { ChatLoaders } from './loaders.js';

/**
 * Whether `senderId` may start a conversation with or message these users:
 * the hook the social domain's blocks plug into (a user who blocked the
 * sender, or whom the sender blocked, makes it answer false; chat then
 * answers FORBIDDEN and writes nothing). Chat asks it before every
 * `startConversation` (with the other members) and every `sendMessage`
 * (with the other members still in the conversation); leaving a
 * conversation never asks it, since a block must not keep anyone in one.
 * Until social exists (it is planned) every server uses the default,
 * which lets everyone message everyone. An implementation asks social the
 * way chat asks accounts (a signed internal call, see accounts-client.ts)
 * and must reject, never answer true, when social cannot be asked.
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
  /** Which user ids exist (accounts); asked before anyone is added to a conversation. */
  readonly users: UserDirectory;
  readonly metrics: ChatMetrics;
}

/** What one request's chat works with. */
export interface RequestDeps extends ChatDeps {
  readonly repo: ConversationRepository;
  readonly loaders: ChatLoaders;
  readonly caller: Caller;
  readonly logger: Logger;
}
