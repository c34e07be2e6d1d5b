import type { MessageResolvers } from '../generated/resolvers-types.js';

/** `Message`: visible to the members of its conversation. */
export const Message: MessageResolvers = {
  async __resolveReference(reference, ctx) {
    try {
      return await ctx.chat.requireMessage(reference.id);
    } catch {
      return null;
    }
  },
  conversation: (message, _args, ctx) => ctx.chat.conversation(message.conversationId),
  sender: (message) => ({ id: message.senderId }),
  deliveredTo: (message, _args, ctx) => ctx.chat.receiptUsers(message, 'delivered'),
  readBy: (message, _args, ctx) => ctx.chat.receiptUsers(message, 'read'),
};
