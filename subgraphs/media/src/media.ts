/**
 * The media use cases (upload, completion, deletion, avatars, reprocessing,
 * watching) for one request. Resolvers translate GraphQL to these calls and
 * nothing more.
 */
import { randomUUID } from 'node:crypto';
import { hasRole, type Caller } from '@arcadia/auth';
import { ErrorCode, userError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { filterEvents } from '@arcadia/pubsub';
import type { TypedQueue } from '@arcadia/queues';
import type { MediaConfig } from './env.js';
import { imageTrigger, publishImageUpdated, type MediaPubSub } from './events.js';
import { originalKey, variantPrefix, type MediaStorage } from './storage.js';
import type { ImageRow, MediaRepository } from './store.js';
import { acceptedContentType, createUploadSchema, isUuid, parseInput } from './validation.js';

/** What `User` resolves from in this subgraph: just the key. */
export interface UserModel {
  readonly id: string;
}

/** What `ImageUpload` resolves from. */
export interface ImageUploadModel {
  readonly uploadId: string;
  readonly uploadUrl: string;
  readonly method: 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
  readonly image: ImageRow;
}

/** Built once per server and shared by every request. */
export interface MediaDeps {
  readonly config: Pick<MediaConfig, 'MEDIA_MAX_UPLOAD_BYTES' | 'MEDIA_UPLOAD_URL_TTL_SECONDS'>;
  readonly storage: MediaStorage;
  readonly queue: TypedQueue<'media'>;
  readonly pubsub: MediaPubSub;
}

/** The use cases of one request. */
export type Media = ReturnType<typeof createMedia>;

const NO_IMAGE = 'No image with that id.';
const NO_UPLOAD = 'No upload with that id.';
const MB = 1024 * 1024;

const megabytes = (bytes: number) => `${Math.round((bytes / MB) * 10) / 10} MB`;

/** The use cases for one request by `caller`, over that request's repository. */
export function createMedia(
  deps: MediaDeps & { repo: MediaRepository; caller: Caller; logger: Logger },
) {
  const { config, storage, queue, pubsub, repo, caller, logger } = deps;
  const maxBytes = config.MEDIA_MAX_UPLOAD_BYTES;

  function requireUser(): string {
    if (!caller.userId) throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in first.');
    return caller.userId;
  }

  const isOwner = (image: ImageRow) => caller.userId !== null && caller.userId === image.ownerId;

  /** An image the caller owns; NOT_FOUND for anyone else's, without telling whether it exists. */
  async function ownImage(id: string, message = NO_IMAGE, field = 'id'): Promise<ImageRow> {
    const userId = requireUser();
    const image = isUuid(id) ? await repo.imageById(id) : null;
    if (!image || image.ownerId !== userId) {
      throw userError(ErrorCode.NOT_FOUND, message, { field });
    }
    return image;
  }

  const tooLarge = (bytes: number) =>
    userError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `The file is ${megabytes(bytes)}; images may be at most ${megabytes(maxBytes)}.`,
      { field: 'byteSize', maxBytes },
    );

  /**
   * Queues the processing of the image's current version. When Redis is
   * unavailable the image stays PROCESSING and is logged; calling
   * completeImageUpload again, or the worker's sweeper, queues it later.
   */
  async function enqueue(image: ImageRow, reason: 'upload' | 'reprocess'): Promise<void> {
    try {
      await queue.enqueue({ imageId: image.id, reason, version: image.version });
    } catch (error) {
      logger.error(
        { err: error, imageId: image.id },
        'processing could not be queued; the sweeper will',
      );
    }
  }

  /** Tells subscribers; an event lost to a Redis outage must not fail the mutation. */
  function publish(image: ImageRow): void {
    publishImageUpdated(pubsub, image).catch((error: unknown) => {
      logger.warn({ err: error, imageId: image.id }, 'imageUpdated could not be published');
    });
  }

  /** Removes the objects of a deleted image; what fails is logged, the row is gone either way. */
  async function removeObjects(image: ImageRow): Promise<void> {
    try {
      // Listing the folder also catches variants of a processing that lost a race.
      const listed = await storage.listVariants(image.id);
      await Promise.all([
        storage.deleteOriginal(image.originalKey),
        storage.deleteVariants([...image.variants.map((v) => v.key), ...listed]),
      ]);
    } catch (error) {
      logger.error(
        { err: error, imageId: image.id, prefix: variantPrefix(image.id) },
        'objects of a deleted image could not all be removed',
      );
    }
  }

  return {
    /** Whether the caller may see `image`: the owner always, anyone else once READY. */
    canSee(image: ImageRow): boolean {
      return image.status === 'READY' || isOwner(image);
    },

    /** Whether the caller owns `image`. */
    isOwner,

    /** The public URL of a variant object. */
    variantUrl: (key: string) => storage.variantUrl(key),

    /** Validates the declared file, creates the image and presigns its upload. */
    async createImageUpload(input: unknown): Promise<ImageUploadModel> {
      const ownerId = requireUser();
      const data = parseInput(createUploadSchema, input);
      const contentType = acceptedContentType(data.contentType);
      if (!contentType) {
        throw userError(
          ErrorCode.UNSUPPORTED_MEDIA_TYPE,
          'Images must be JPEG, PNG, WebP, GIF, AVIF or HEIC.',
          { field: 'contentType' },
        );
      }
      if (data.byteSize > maxBytes) throw tooLarge(data.byteSize);

      const id = randomUUID();
      const key = originalKey(ownerId, id);
      const ttl = config.MEDIA_UPLOAD_URL_TTL_SECONDS;
      const expiresAt = new Date(Date.now() + ttl * 1000);
      // Presigned first: nothing is written when S3 cannot sign.
      const uploadUrl = await storage.presignUpload(key, contentType, ttl);
      const image = await repo.insertImage({
        id,
        ownerId,
        filename: data.filename,
        contentType,
        declaredBytes: data.byteSize,
        originalKey: key,
      });
      logger.info({ imageId: id, ownerId, contentType }, 'image upload created');
      return {
        uploadId: id,
        uploadUrl,
        method: 'PUT',
        headers: { 'Content-Type': contentType },
        expiresAt,
        image,
      };
    },

    /**
     * The upload is done: checks the object, marks the image PROCESSING and
     * queues its processing once. Calling it again returns the image as it is
     * and queues nothing more (the job id is the image's).
     */
    async completeImageUpload(uploadId: string): Promise<ImageRow> {
      const image = await ownImage(uploadId, NO_UPLOAD, 'uploadId');
      if (image.status === 'PROCESSING' && image.processedVersion < image.version) {
        // Adds nothing while the job exists; re-adds it if it got lost on the way.
        await enqueue(image, 'upload');
        return image;
      }
      if (image.status !== 'AWAITING_UPLOAD') return image;

      const object = await storage.headOriginal(image.originalKey);
      if (!object) {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          'Nothing has been uploaded for this id yet: PUT the file to the uploadUrl first.',
          { field: 'uploadId' },
        );
      }
      if (object.bytes > maxBytes) {
        await storage.deleteOriginal(image.originalKey);
        logger.info({ imageId: image.id, bytes: object.bytes }, 'oversized upload deleted');
        throw tooLarge(object.bytes);
      }
      if (object.bytes === 0) {
        await storage.deleteOriginal(image.originalKey);
        throw userError(ErrorCode.BAD_USER_INPUT, 'The uploaded file is empty.', {
          field: 'uploadId',
        });
      }
      const processing = await repo.markUploaded(image.id, image.ownerId, object.bytes);
      if (!processing) {
        // A concurrent call got there first; answer with what it made.
        return (await repo.imageById(image.id)) ?? image;
      }
      await enqueue(processing, 'upload');
      publish(processing);
      logger.info({ imageId: image.id, bytes: object.bytes }, 'image upload completed');
      return processing;
    },

    /** Deletes one of the caller's images, its original and its variants. */
    async deleteImage(id: string): Promise<boolean> {
      const image = await ownImage(id);
      const deleted = await repo.deleteImage(image.id, image.ownerId);
      if (!deleted) throw userError(ErrorCode.NOT_FOUND, NO_IMAGE, { field: 'id' });
      await removeObjects(deleted);
      logger.info({ imageId: id }, 'image deleted');
      return true;
    },

    /** Makes one of the caller's READY images their avatar. */
    async setAvatar(imageId: string): Promise<UserModel> {
      const image = await ownImage(imageId, NO_IMAGE, 'imageId');
      if (image.status !== 'READY') {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          `Only a READY image can be an avatar; this one is ${image.status}.`,
          { field: 'imageId' },
        );
      }
      await repo.setAvatar(image.ownerId, image.id);
      return { id: image.ownerId };
    },

    /** Makes an image's variants again (ADMIN). */
    async reprocessImage(id: string): Promise<ImageRow> {
      requireUser();
      if (!hasRole(caller, 'ADMIN')) {
        throw userError(ErrorCode.FORBIDDEN, 'Only an ADMIN can reprocess images.');
      }
      const image = isUuid(id) ? await repo.requestReprocess(id) : null;
      if (!image) {
        const exists = isUuid(id) ? await repo.imageById(id) : null;
        if (exists) {
          throw userError(ErrorCode.BAD_USER_INPUT, 'The image has not been uploaded yet.', {
            field: 'id',
          });
        }
        throw userError(ErrorCode.NOT_FOUND, NO_IMAGE, { field: 'id' });
      }
      await enqueue(image, 'reprocess');
      if (image.status === 'PROCESSING') publish(image);
      logger.info({ imageId: id, version: image.version, actorId: caller.userId }, 'reprocess');
      return image;
    },

    /**
     * The events of `imageUpdated(id)`. Only the owner may watch an image that
     * is not READY; anyone else gets NOT_FOUND, as for an unknown id, and only
     * READY events.
     */
    async watchImage(id: string) {
      const image = isUuid(id) ? await repo.imageById(id) : null;
      if (!image || !(image.status === 'READY' || isOwner(image))) {
        throw userError(ErrorCode.NOT_FOUND, NO_IMAGE, { field: 'id' });
      }
      const owner = isOwner(image);
      return filterEvents(
        pubsub.subscribe(imageTrigger(image.id)),
        (event) => owner || event.image.status === 'READY',
      );
    },
  };
}
