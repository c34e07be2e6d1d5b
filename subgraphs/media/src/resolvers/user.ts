import type { UserResolvers } from '../generated/resolvers-types.js';

/** `User`: the accounts subgraph's users, with the avatar this subgraph keeps for them. */
export const User: UserResolvers = {
  __resolveReference: (reference) => ({ id: reference.id }),
  async avatar(user, _args, ctx) {
    const image = await ctx.loaders.avatarByUserId.load(user.id);
    return image && ctx.media.canSee(image) ? image : null;
  },
};
