import type { ConversationResolvers } from '../generated/resolvers-types.js';

/** `Conversation`: only members reach one, by query, event or reference. */
export const Conversation: ConversationResolvers = {
  async __resolveReference(reference, ctx) {
    try {
      return await ctx.chat.conversation(reference.id);
    } catch {
      // Someone else's conversation is, to this caller, no conversation at all.
      return null;
    }
  },
  members: async (conversation, _args, ctx) =>
    (await ctx.loaders.members.load(conversation.id)).map((m) => ({ id: m.userId })),
  lastMessage: (conversation, _args, ctx) =>
    conversation.lastMessageId ? ctx.loaders.message.load(conversation.lastMessageId) : null,
  unreadCount: (conversation, _args, ctx) => ctx.chat.unreadCount(conversation.id),
  muted: async (conversation, _args, ctx) =>
    (await ctx.loaders.membership.load(conversation.id))?.muted ?? false,
  messages: (conversation, args, ctx) => ctx.chat.messages(conversation, args),
};
