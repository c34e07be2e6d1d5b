import type { ChatContext } from '../context.js';
import { messageFromJson, type ChatEventPayload } from '../events.js';
import type {
  ChatEventResolvers,
  MemberLeftResolvers,
  MessageDeliveredResolvers,
  MessageReadResolvers,
  SubscriptionResolvers,
  TypingStartedResolvers,
} from '../generated/resolvers-types.js';
import type {
  MemberLeftModel,
  MessageDeliveredModel,
  MessageEventModel,
  MessageReadModel,
  TypingStartedModel,
} from '../domain/event-models.js';

type EventModel =
  | MessageEventModel
  | MessageDeliveredModel
  | MessageReadModel
  | TypingStartedModel
  | MemberLeftModel;

function toModel(event: ChatEventPayload): EventModel {
  switch (event.type) {
    case 'MessageAdded':
    case 'MessageUpdated':
      return { kind: event.type, message: messageFromJson(event.message) };
    case 'MessageDelivered':
      return {
        kind: event.type,
        message: messageFromJson(event.message),
        user: { id: event.userId },
      };
    case 'MessageRead':
      return {
        kind: event.type,
        conversationId: event.conversationId,
        user: { id: event.userId },
        upTo: messageFromJson(event.upTo),
      };
    case 'TypingStarted':
    case 'MemberLeft':
      return { kind: event.type, conversationId: event.conversationId, user: { id: event.userId } };
  }
}

/** `Subscription`: the caller's channel on Redis pub/sub. */
export const Subscription: SubscriptionResolvers = {
  chatEvents: {
    subscribe: (_parent, _args, ctx) => ctx.chat.watch(),
    resolve: (event: ChatEventPayload, _args: unknown, ctx: ChatContext) => {
      // One context lives as long as the subscription: nothing cached for an
      // earlier event (members, receipts, unread counts) may answer this one.
      for (const loader of Object.values(ctx.loaders) as { clearAll(): unknown }[])
        loader.clearAll();
      return toModel(event);
    },
  },
};

/** `ChatEvent`: the event's kind names its type. */
export const ChatEvent: ChatEventResolvers = {
  __resolveType: (event) => event.kind,
};

/** `MessageDelivered`. */
export const MessageDelivered: MessageDeliveredResolvers = {};

/** `MessageRead`: the conversation is the caller's, read as they see it. */
export const MessageRead: MessageReadResolvers = {
  conversation: (event, _args, ctx) => ctx.chat.conversation(event.conversationId),
};

/** `MemberLeft`: the conversation as the member who stays sees it. */
export const MemberLeft: MemberLeftResolvers = {
  conversation: (event, _args, ctx) => ctx.chat.conversation(event.conversationId),
};

/** `TypingStarted`. */
export const TypingStarted: TypingStartedResolvers = {
  conversation: (event, _args, ctx) => ctx.chat.conversation(event.conversationId),
};
