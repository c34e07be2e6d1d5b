import type { MutationResolvers } from '../generated/resolvers-types.js';

/** `Mutation`: each field is one use case of `media.ts`. */
export const Mutation: MutationResolvers = {
  createImageUpload: (_parent, { input }, ctx) => ctx.media.createImageUpload(input),
  completeImageUpload: (_parent, { uploadId }, ctx) => ctx.media.completeImageUpload(uploadId),
  deleteImage: (_parent, { id }, ctx) => ctx.media.deleteImage(id),
  setAvatar: (_parent, { imageId }, ctx) => ctx.media.setAvatar(imageId),
  reprocessImage: (_parent, { id }, ctx) => ctx.media.reprocessImage(id),
};
