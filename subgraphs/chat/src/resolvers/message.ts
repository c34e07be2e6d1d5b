import type { MessageResolvers } from '../generated/resolvers-types.js';
import { nullIfNotFound } from './reference.js';

/** `Message`: visible to the members of its conversation. */
export const Message: MessageResolvers = {
  /**
   * A reference resolves to null when its id is not a message id or names no
   * message (NOT_FOUND); to FORBIDDEN when the message's conversation is not
   * the caller's, as `Query.conversation` answers; and to an error when a
   * store fails.
   */
  __resolveReference: (reference, ctx) => nullIfNotFound(ctx.chat.message(reference.id)),
  conversation: (message, _args, ctx) => ctx.chat.conversation(message.conversationId),
  sender: (message) => ({ id: message.senderId }),
  deliveredTo: (message, _args, ctx) => ctx.chat.receiptUsers(message, 'delivered'),
  readBy: (message, _args, ctx) => ctx.chat.receiptUsers(message, 'read'),
};
