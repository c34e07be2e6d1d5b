import type { ImageResolvers } from '../generated/resolvers-types.js';

const ORDER = { THUMBNAIL: 0, MEDIUM: 1, LARGE: 2 } as const;

/** `Image`: visible to its owner in every status, to anyone once READY. */
export const Image: ImageResolvers = {
  // Other subgraphs reference images by id (a game's cover); one request's
  // references are batched into one query, and what the caller may not see is null.
  async __resolveReference(reference, ctx) {
    const image = await ctx.loaders.imageById.load(reference.id);
    return image && ctx.media.canSee(image) ? image : null;
  },
  owner: (image) => ({ id: image.ownerId }),
  variants: (image) =>
    image.status === 'READY'
      ? [...image.variants].sort((a, b) => ORDER[a.name] - ORDER[b.name])
      : [],
  url(image, { variant }, ctx) {
    if (image.status !== 'READY') return null;
    const found = image.variants.find((v) => v.name === variant);
    return found ? ctx.media.variantUrl(found.key) : null;
  },
  placeholder: (image) => (image.status === 'READY' ? image.placeholder : null),
  // Why something failed is the owner's business only.
  failureReason: (image, _args, ctx) =>
    image.status === 'FAILED' && ctx.media.isOwner(image) ? image.failureReason : null,
};
