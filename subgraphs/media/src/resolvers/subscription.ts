import { imageFromEvent, type ImageEventPayload } from '../events.js';
import type { SubscriptionResolvers } from '../generated/resolvers-types.js';

/** `Subscription`: image events from Redis pub/sub, authorised on subscribe and per event. */
export const Subscription: SubscriptionResolvers = {
  imageUpdated: {
    subscribe: (_parent, { id }, ctx) => ctx.media.watchImage(id),
    // Each event carries the whole image, so no event costs a query here.
    resolve: (event: { image: ImageEventPayload }) => imageFromEvent(event.image),
  },
};
