import type { QueryResolvers } from '../generated/resolvers-types.js';
import { handleSchema } from '../validation.js';

/** `Query`: reading users. Profiles are public; `User.email` guards itself. */
export const Query: QueryResolvers = {
  me: (_parent, _args, ctx) =>
    ctx.caller.userId ? ctx.loaders.userById.load(ctx.caller.userId) : null,
  user: (_parent, { id }, ctx) => ctx.loaders.userById.load(id),
  async userByHandle(_parent, { handle }, ctx) {
    // Nobody can have a malformed handle, so there is nothing to look up.
    if (!handleSchema.safeParse(handle).success) return null;
    return ctx.accounts.userByHandle(handle);
  },
};
