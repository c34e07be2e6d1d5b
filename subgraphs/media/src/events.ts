/**
 * What the media domain publishes on Redis pub/sub for `imageUpdated`
 * subscribers. The subgraph (PROCESSING) and the worker (READY, FAILED)
 * publish; the subgraph's subscription resolver listens.
 */
import type { Logger } from '@arcadia/observability';
import { createPubSub, type TypedPubSub } from '@arcadia/pubsub';
import type { ImageRow } from './store.js';

/** An image as it travels through Redis: JSON, so dates are ISO strings. */
export type ImageEventPayload = Omit<ImageRow, 'createdAt' | 'updatedAt'> & {
  createdAt: string;
  updatedAt: string;
};

/** The trigger of one image's events. */
export type ImageTrigger = `image:${string}`;

/** Triggers and payloads of the media domain. */
export type MediaEvents = Record<ImageTrigger, { image: ImageEventPayload }>;

/** The media domain's pub/sub. */
export type MediaPubSub = TypedPubSub<MediaEvents>;

/**
 * Opens the media pub/sub; subgraph and worker must use the same `prefix`.
 * `logger` gets its Redis connection problems.
 */
export function createMediaPubSub(options: {
  redisUrl: string;
  prefix: string;
  logger?: Logger;
}): MediaPubSub {
  return createPubSub<MediaEvents>({
    redisUrl: options.redisUrl,
    prefix: `${options.prefix}:media`,
    logger: options.logger,
  });
}

/** The trigger `imageUpdated(id)` listens on. */
export function imageTrigger(imageId: string): ImageTrigger {
  return `image:${imageId}`;
}

/** Tells `imageUpdated` subscribers of the image's new state. */
export async function publishImageUpdated(pubsub: MediaPubSub, image: ImageRow): Promise<void> {
  await pubsub.publish(imageTrigger(image.id), {
    image: {
      ...image,
      createdAt: image.createdAt.toISOString(),
      updatedAt: image.updatedAt.toISOString(),
    },
  });
}

/** The row an event carried. */
export function imageFromEvent(payload: ImageEventPayload): ImageRow {
  return {
    ...payload,
    createdAt: new Date(payload.createdAt),
    updatedAt: new Date(payload.updatedAt),
  };
}
