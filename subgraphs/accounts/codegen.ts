import { subgraphCodegen } from '@arcadia/subgraph-kit/codegen';

/**
 * Typed resolvers for the accounts subgraph: `npm run codegen -w @arcadia/accounts`.
 * Parents are the store's rows and the domain's models.
 */
export default subgraphCodegen({
  contextType: '../context.js#AccountsContext',
  mappers: {
    User: '../store.js#UserRow',
    AuthPayload: '../accounts.js#AuthPayloadModel',
    ApiClientSecret: '../accounts.js#ApiClientSecretModel',
  },
});
