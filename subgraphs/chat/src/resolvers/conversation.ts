import type { ConversationResolvers } from '../generated/resolvers-types.js';

/** `Conversation`: only members reach one, by query, event or reference. */
export const Conversation: ConversationResolvers = {
  /**
   * FORBIDDEN, as `Query.conversation` answers, for a conversation that is
   * not the caller's, whether or not it exists (so ids reveal nothing);
   * an error when a store fails. Never null.
   */
  __resolveReference: (reference, ctx) => ctx.chat.conversation(reference.id),
  members: async (conversation, _args, ctx) =>
    (await ctx.loaders.members.load(conversation.id)).map((m) => ({ id: m.userId })),
  lastMessage: (conversation, _args, ctx) =>
    conversation.lastMessageId ? ctx.loaders.message.load(conversation.lastMessageId) : null,
  unreadCount: (conversation, _args, ctx) => ctx.chat.unreadCount(conversation.id),
  muted: async (conversation, _args, ctx) =>
    (await ctx.loaders.membership.load(conversation.id))?.muted ?? false,
  messages: (conversation, args, ctx) => ctx.chat.messages(conversation, args),
};
