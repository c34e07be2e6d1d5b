import { describe, expect, it } from 'vitest';
import type { Caller } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import type { TypedQueue } from '@arcadia/queues';
import type { MediaPubSub } from '../src/events.js';
import { createMedia } from '../src/media.js';
import type { MediaStorage } from '../src/storage.js';
import type { ImageRow, MediaRepository } from '../src/store.js';

const OWNER = '6a1c3f53-2f4e-4a7c-9d38-0b0a5b7e2c11';
const IMAGE: ImageRow = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  ownerId: OWNER,
  status: 'AWAITING_UPLOAD',
  filename: 'photo.jpg',
  contentType: 'image/jpeg',
  declaredBytes: 10,
  originalKey: `originals/${OWNER}/0f8fad5b-d9cb-469f-a165-70867728950e`,
  bytes: null,
  width: null,
  height: null,
  variants: [],
  placeholder: null,
  failureReason: null,
  version: 1,
  processedVersion: 0,
  sweeps: 0,
  createdAt: new Date(),
  updatedAt: new Date(),
};

function mediaWith(parts: {
  repo?: Partial<MediaRepository>;
  storage?: Partial<MediaStorage>;
  queue?: Partial<TypedQueue<'media'>>;
  pubsub?: Partial<MediaPubSub>;
  caller?: Caller;
}) {
  return createMedia({
    config: { MEDIA_MAX_UPLOAD_BYTES: 1000, MEDIA_UPLOAD_URL_TTL_SECONDS: 900 },
    repo: parts.repo as MediaRepository,
    storage: parts.storage as MediaStorage,
    queue: parts.queue as TypedQueue<'media'>,
    pubsub: parts.pubsub as MediaPubSub,
    caller: parts.caller ?? { userId: OWNER, roles: ['USER'], scopes: [] },
    logger: createLogger('media', 'silent'),
  });
}

describe('completing an upload while Redis is unavailable', () => {
  it('still makes the image PROCESSING, leaving the job to a later call or the sweeper', async () => {
    const media = mediaWith({
      repo: {
        imageById: async () => IMAGE,
        markUploaded: async (_id, _owner, bytes) => ({ ...IMAGE, status: 'PROCESSING', bytes }),
      },
      storage: { headOriginal: async () => ({ bytes: 10 }) },
      queue: {
        enqueue: async () => {
          throw new Error('Reached the max retries per request limit');
        },
      },
      pubsub: {
        publish: async () => {
          throw new Error('Connection is closed.');
        },
      },
    });
    await expect(media.completeImageUpload(IMAGE.id)).resolves.toMatchObject({
      status: 'PROCESSING',
      bytes: 10,
    });
  });
});

describe('reprocessing', () => {
  it('asks an anonymous caller to sign in and refuses anyone but an ADMIN', async () => {
    const anonymous = mediaWith({ caller: { userId: null, roles: [], scopes: [] } });
    await expect(anonymous.reprocessImage(IMAGE.id)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const user = mediaWith({});
    await expect(user.reprocessImage(IMAGE.id)).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('refuses an image that was never uploaded', async () => {
    const admin = mediaWith({
      caller: { userId: OWNER, roles: ['USER', 'ADMIN'], scopes: [] },
      repo: { requestReprocess: async () => null, imageById: async () => IMAGE },
    });
    await expect(admin.reprocessImage(IMAGE.id)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
});
