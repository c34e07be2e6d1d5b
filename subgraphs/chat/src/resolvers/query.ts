import type { QueryResolvers } from '../generated/resolvers-types.js';

/** `Query`: the caller's conversations. */
export const Query: QueryResolvers = {
  conversations: (_parent, args, ctx) => ctx.chat.conversations(args),
  conversation: (_parent, { id }, ctx) => ctx.chat.conversation(id),
  webPushPublicKey: (_parent, _args, ctx) => ctx.chat.webPushPublicKey,
};
