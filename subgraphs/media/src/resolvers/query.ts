import type { QueryResolvers } from '../generated/resolvers-types.js';

/** `Query`: reading images; what the caller may not see reads as null. */
export const Query: QueryResolvers = {
  async image(_parent, { id }, ctx) {
    const image = await ctx.loaders.imageById.load(id);
    return image && ctx.media.canSee(image) ? image : null;
  },
};
