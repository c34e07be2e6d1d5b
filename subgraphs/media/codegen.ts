import { subgraphCodegen } from '@arcadia/subgraph-kit/codegen';

/**
 * Typed resolvers for the media subgraph: `npm run codegen -w @arcadia/media`.
 * Parents are the store's rows and the domain's models.
 */
export default subgraphCodegen({
  contextType: '../context.js#MediaContext',
  mappers: {
    User: '../media.js#UserModel',
    Image: '../store.js#ImageRow',
    ImageVariant: '../store.js#VariantRow',
    ImageUpload: '../media.js#ImageUploadModel',
  },
  scalars: { JSON: { input: 'unknown', output: 'unknown' } },
});
