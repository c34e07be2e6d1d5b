import { z } from 'zod';
import { env, parseEnv, servicesEnv } from '@arcadia/config';
import { PRESENCE_PREFIX_DEFAULT } from '@arcadia/presence';
import { pushEnv } from '@arcadia/push';

const seconds = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

const shape = {
  ...servicesEnv.process(4004),
  ...servicesEnv.metrics(9404),
  DATABASE_URL: env.url('postgres://arcadia:arcadia@127.0.0.1:5432/arcadia_chat'),
  ...servicesEnv.redis,
  ...servicesEnv.cassandra,
  /** The chat keyspace (messages, receipts); created with CASSANDRA_REPLICATION when missing. */
  CASSANDRA_KEYSPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/, 'lowercase letters, digits and _')
    .default('arcadia_chat'),
  /**
   * Time span of one message partition. An hour keeps a partition far under
   * 100 MB even at the send rate limit with 4000-character messages; quiet
   * conversations cost nothing more, since history skips empty buckets.
   */
  CHAT_BUCKET_MS: z.coerce.number().int().min(1).default(3_600_000),
  /** How long after sending a message can still be edited. */
  CHAT_EDIT_WINDOW_SECONDS: seconds(900),
  /** Largest group, the starter included. */
  CHAT_MAX_MEMBERS: z.coerce.number().int().min(2).max(10_000).default(256),
  /** Messages one user may send per CHAT_SEND_WINDOW_SECONDS, over all conversations. */
  CHAT_SEND_LIMIT: z.coerce.number().int().min(1).default(60),
  CHAT_SEND_WINDOW_SECONDS: seconds(10),
  /** A typing notice is sent at most once per this long per user and conversation. */
  CHAT_TYPING_INTERVAL_MS: z.coerce.number().int().min(100).default(3000),
  ...pushEnv,
  /** Prefix of the socket-presence keys the router writes; must match the router's. */
  PRESENCE_PREFIX: z.string().min(1).default(PRESENCE_PREFIX_DEFAULT),
  /** Characters of a message shown in its push notification. */
  PUSH_PREVIEW_CHARS: z.coerce.number().int().min(0).max(1000).default(120),
  /** VAPID public key browsers subscribe to Web Push with (`npx web-push generate-vapid-keys`). */
  VAPID_PUBLIC_KEY: z.string().optional(),
  /** Accept http:// push endpoints (local testing only). */
  PUSH_ALLOW_INSECURE_ENDPOINTS: env.bool(false),
  /** BullMQ key prefix; producers and workers must agree. */
  QUEUE_PREFIX: z.string().min(1).default('arcadia'),
  /** Redis pub/sub channel prefix of chat events. */
  PUBSUB_PREFIX: z.string().min(1).default('arcadia'),
  /** Prefix of chat's own Redis keys (unread sets, clocks, limits). */
  REDIS_KEY_PREFIX: z.string().min(1).default('arcadia:'),
  /**
   * The accounts subgraph's GraphQL URL: chat asks it, with a signed internal
   * call, which member ids name real users (it never reads accounts' tables).
   */
  ACCOUNTS_URL: env.url('http://127.0.0.1:4001/graphql'),
  /** How long chat waits for accounts before answering SERVICE_UNAVAILABLE. */
  ACCOUNTS_TIMEOUT_MS: z.coerce.number().int().min(100).default(2000),
  ...servicesEnv.keys,
};

/** The chat subgraph's validated configuration. */
export type ChatConfig = ReturnType<typeof parseChatEnv>;

/**
 * Reads the chat configuration from `source` (the process environment by
 * default); throws a ConfigError listing every invalid variable.
 */
export function parseChatEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv('chat', shape, source);
}
