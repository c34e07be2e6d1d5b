import type { ImageVariantResolvers } from '../generated/resolvers-types.js';

/** `ImageVariant`: one stored size; its URL is public. */
export const ImageVariant: ImageVariantResolvers = {
  url: (variant, _args, ctx) => ctx.media.variantUrl(variant.key),
};
