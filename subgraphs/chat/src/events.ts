/**
 * What chat publishes on Redis pub/sub. Every event goes to a channel per
 * recipient user, so `chatEvents` subscribes to one channel whatever the
 * number of conversations, and a member added or removed needs no change to
 * anyone's subscription. Events carry the message itself, so no subscriber
 * reads it back from Cassandra.
 */
import type { Logger } from '@arcadia/observability';
import { createPubSub, type TypedPubSub } from '@arcadia/pubsub';
import type { MessageRow } from './store/index.js';

/** A message as it travels through Redis: JSON, so dates are ISO strings. */
export type MessageJson = Omit<MessageRow, 'createdAt' | 'editedAt'> & {
  createdAt: string;
  editedAt: string | null;
};

/** One event, as published. */
export type ChatEventPayload =
  | { type: 'MessageAdded'; message: MessageJson }
  | { type: 'MessageUpdated'; message: MessageJson }
  | { type: 'MessageDelivered'; message: MessageJson; userId: string }
  | { type: 'MessageRead'; conversationId: string; userId: string; upTo: MessageJson }
  | { type: 'TypingStarted'; conversationId: string; userId: string }
  | { type: 'MemberLeft'; conversationId: string; userId: string };

/** The trigger of one user's events. */
export type UserTrigger = `user:${string}`;

/** Triggers and payloads of chat. */
export type ChatEvents = Record<UserTrigger, ChatEventPayload>;

/** Chat's pub/sub. */
export type ChatPubSub = TypedPubSub<ChatEvents>;

/**
 * Opens chat's pub/sub; every instance must use the same `prefix`. `logger`
 * gets its Redis connection problems.
 */
export function createChatPubSub(options: {
  redisUrl: string;
  prefix: string;
  logger?: Logger;
}): ChatPubSub {
  return createPubSub<ChatEvents>({
    redisUrl: options.redisUrl,
    prefix: `${options.prefix}:chat`,
    logger: options.logger,
  });
}

/** The trigger `chatEvents` of `userId` listens on. */
export function userTrigger(userId: string): UserTrigger {
  return `user:${userId}`;
}

/** A message for an event. */
export function messageJson(message: MessageRow): MessageJson {
  return {
    ...message,
    createdAt: message.createdAt.toISOString(),
    editedAt: message.editedAt?.toISOString() ?? null,
  };
}

/** The message an event carried. */
export function messageFromJson(json: MessageJson): MessageRow {
  return {
    ...json,
    createdAt: new Date(json.createdAt),
    editedAt: json.editedAt ? new Date(json.editedAt) : null,
  };
}

/** Publishes `event` to each of `userIds`. */
export async function publishTo(
  pubsub: ChatPubSub,
  userIds: Iterable<string>,
  event: ChatEventPayload,
): Promise<void> {
  await Promise.all([...new Set(userIds)].map((id) => pubsub.publish(userTrigger(id), event)));
}
