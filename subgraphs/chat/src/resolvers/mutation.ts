import type { MutationResolvers } from '../generated/resolvers-types.js';

/** `Mutation`: every change goes through the chat domain, which checks membership first. */
export const Mutation: MutationResolvers = {
  startConversation: (_parent, { memberIds, title }, ctx) =>
    ctx.chat.startConversation(memberIds, title),
  sendMessage: (_parent, { conversationId, text, clientMessageId }, ctx) =>
    ctx.chat.sendMessage(conversationId, text, clientMessageId),
  editMessage: (_parent, { id, text }, ctx) => ctx.chat.editMessage(id, text),
  deleteMessage: (_parent, { id }, ctx) => ctx.chat.deleteMessage(id),
  markDelivered: (_parent, { messageIds }, ctx) => ctx.chat.markDelivered(messageIds),
  markRead: (_parent, { conversationId, upTo }, ctx) => ctx.chat.markRead(conversationId, upTo),
  setTyping: (_parent, { conversationId }, ctx) => ctx.chat.setTyping(conversationId),
  muteConversation: (_parent, { conversationId, muted }, ctx) =>
    ctx.chat.muteConversation(conversationId, muted),
  leaveConversation: (_parent, { conversationId }, ctx) =>
    ctx.chat.leaveConversation(conversationId),
  registerPushSubscription: (_parent, { subscription }, ctx) =>
    ctx.chat.registerPushSubscription(subscription),
  unregisterPushSubscription: (_parent, { endpoint }, ctx) =>
    ctx.chat.unregisterPushSubscription(endpoint),
};
