import type { MutationResolvers } from '../generated/resolvers-types.js';

/** `Mutation`: each field is one use case of `accounts.ts`. */
export const Mutation: MutationResolvers = {
  signUp: (_parent, { input }, ctx) => ctx.accounts.signUp(input),
  signIn: (_parent, { email, password }, ctx) => ctx.accounts.signIn(email, password),
  refreshSession: (_parent, { refreshToken }, ctx) => ctx.accounts.refreshSession(refreshToken),
  signOut: (_parent, _args, ctx) => ctx.accounts.signOut(),
  grantRole: (_parent, { userId, role }, ctx) => ctx.accounts.grantRole(userId, role),
  createApiClient: (_parent, { name, scopes }, ctx) => ctx.accounts.createApiClient(name, scopes),
  issueClientToken: (_parent, { clientId, clientSecret }, ctx) =>
    ctx.accounts.issueClientToken(clientId, clientSecret),
  revokeApiClient: (_parent, { clientId }, ctx) => ctx.accounts.revokeApiClient(clientId),
};
