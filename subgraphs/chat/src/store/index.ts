/**
 * The chat store: the only modules that talk to a driver. PostgreSQL holds
 * conversations and members, Cassandra messages and receipts, Redis the
 * unread sets, clocks and limits. The push worker opens nothing of it.
 */
import type { Logger } from '@arcadia/observability';
import type { ChatConfig } from '../env.js';
import { openConversationDatabase, type ConversationDatabase } from './conversations.js';
import { openLiveStore, type LiveStore } from './live.js';
import { openMessageStore, type MessageStore } from './messages.js';
import { createSendMessage, type MessageToSend, type SentMessage } from './send.js';

export type {
  ConversationKind,
  ConversationRepository,
  ConversationRow,
  MemberRow,
} from './conversations.js';
export { UNREAD_CAP, type LiveStore } from './live.js';
export {
  timeIdAt,
  type ClientMessageClaim,
  type MessageRow,
  type MessageStore,
  type ReceiptRow,
} from './messages.js';
export type { MessageToSend, SentMessage } from './send.js';

/** Everything chat keeps. */
export interface Store {
  readonly conversations: ConversationDatabase;
  readonly messages: MessageStore;
  readonly live: LiveStore;
  /**
   * Sends a message once per (conversation, sender, client message id): a
   * repeat, concurrent or later, writes nothing and returns the first send's
   * message (`isNew: false`).
   */
  sendMessage(message: MessageToSend): Promise<SentMessage>;
  /** Throws when a store does not answer; drives `/ready`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the three stores of chat, creating schemas where missing. */
export async function openStore(
  config: Pick<
    ChatConfig,
    | 'DATABASE_URL'
    | 'REDIS_URL'
    | 'REDIS_KEY_PREFIX'
    | 'CASSANDRA_CONTACT_POINTS'
    | 'CASSANDRA_LOCAL_DATACENTER'
    | 'CASSANDRA_KEYSPACE'
    | 'CASSANDRA_REPLICATION'
    | 'CHAT_BUCKET_MS'
    | 'CHAT_SEND_LIMIT'
    | 'CHAT_SEND_WINDOW_SECONDS'
  >,
  logger?: Logger,
): Promise<Store> {
  const live = openLiveStore({
    redisUrl: config.REDIS_URL,
    prefix: config.REDIS_KEY_PREFIX,
    sendLimit: { points: config.CHAT_SEND_LIMIT, durationSeconds: config.CHAT_SEND_WINDOW_SECONDS },
    logger,
  });
  try {
    const [conversations, messages] = await Promise.all([
      openConversationDatabase({ databaseUrl: config.DATABASE_URL, logger }),
      openMessageStore({
        contactPoints: config.CASSANDRA_CONTACT_POINTS,
        localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
        keyspace: config.CASSANDRA_KEYSPACE,
        replication: config.CASSANDRA_REPLICATION,
        bucketMs: config.CHAT_BUCKET_MS,
        logger,
      }),
    ]);
    return {
      conversations,
      messages,
      live,
      sendMessage: createSendMessage(live, messages),
      async ping() {
        await Promise.all([conversations.ping(), messages.ping(), live.ping()]);
      },
      async close() {
        await Promise.allSettled([conversations.close(), messages.close(), live.close()]);
      },
    };
  } catch (error) {
    await live.close();
    throw error;
  }
}
