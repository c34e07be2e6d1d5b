import type { UserResolvers } from '../generated/resolvers-types.js';

/** `User`: a public profile, except `email`. */
export const User: UserResolvers = {
  // Other subgraphs reference users by id; one request's references are
  // batched into one query by the DataLoader.
  __resolveReference: (reference, ctx) => ctx.loaders.userById.load(reference.id),
  // Someone's email is theirs: shown to them and to ADMINs only.
  email: (user, _args, ctx) => (ctx.accounts.mayReadPrivateFields(user.id) ? user.email : null),
};
