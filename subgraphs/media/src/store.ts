/**
 * The media store: the only module that talks to PostgreSQL. Everything else
 * sees repository functions and plain rows. The media worker opens the same
 * store (`@arcadia/media/store`): one domain, one database.
 */
import { EntitySchema, type EntityManager } from '@mikro-orm/postgresql';
import { openSessionStore, type SessionStore } from '@arcadia/postgres';
import type { Logger } from '@arcadia/observability';
import { migrationsList } from './migrations/index.js';

// ---------------------------------------------------------------- rows

/** Where an image is in its life. */
export type ImageStatus = 'AWAITING_UPLOAD' | 'PROCESSING' | 'READY' | 'FAILED';

/** The processed sizes. */
export type VariantName = 'THUMBNAIL' | 'MEDIUM' | 'LARGE';

/** One processed variant, as stored in `images.variants`. */
export interface VariantRow {
  readonly name: VariantName;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly bytes: number;
  /** Object key in the processed bucket. */
  readonly key: string;
}

/** An image as the rest of the domain sees it. */
export interface ImageRow {
  readonly id: string;
  readonly ownerId: string;
  readonly status: ImageStatus;
  readonly filename: string;
  readonly contentType: string;
  readonly declaredBytes: number;
  readonly originalKey: string;
  readonly bytes: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly variants: readonly VariantRow[];
  readonly placeholder: string | null;
  readonly failureReason: string | null;
  /** Processing requests so far: 1 after upload, +1 per reprocess. */
  readonly version: number;
  /** The last version whose processing finished (READY or FAILED); 0 before any. */
  readonly processedVersion: number;
  /** Times the sweeper re-enqueued the current version. */
  readonly sweeps: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

// ------------------------------------------------------------- entities

interface ImageEntity {
  id: string;
  ownerId: string;
  status: string;
  filename: string;
  contentType: string;
  declaredBytes: number;
  originalKey: string;
  bytes: number | null;
  width: number | null;
  height: number | null;
  variants: VariantRow[];
  placeholder: string | null;
  failureReason: string | null;
  version: number;
  processedVersion: number;
  sweeps: number;
  createdAt: Date;
  updatedAt: Date;
}

interface AvatarEntity {
  userId: string;
  imageId: string;
  updatedAt: Date;
}

// The tables are created by the hand-written migrations; the schemas only
// tell the ORM how columns map to properties.
const timestamp = { type: 'datetime', columnType: 'timestamptz' } as const;

const Image = new EntitySchema<ImageEntity>({
  name: 'Image',
  tableName: 'images',
  properties: {
    id: { type: 'uuid', primary: true },
    ownerId: { type: 'uuid' },
    status: { type: 'text' },
    filename: { type: 'text' },
    contentType: { type: 'text' },
    declaredBytes: { type: 'integer' },
    originalKey: { type: 'text' },
    bytes: { type: 'integer', nullable: true },
    width: { type: 'integer', nullable: true },
    height: { type: 'integer', nullable: true },
    variants: { type: 'json', columnType: 'jsonb' },
    placeholder: { type: 'text', nullable: true },
    failureReason: { type: 'text', nullable: true },
    version: { type: 'integer' },
    processedVersion: { type: 'integer' },
    sweeps: { type: 'integer' },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
});

const Avatar = new EntitySchema<AvatarEntity>({
  name: 'Avatar',
  tableName: 'avatars',
  properties: {
    userId: { type: 'uuid', primary: true },
    imageId: { type: 'uuid' },
    updatedAt: timestamp,
  },
});

function toImageRow(e: ImageEntity): ImageRow {
  return {
    id: e.id,
    ownerId: e.ownerId,
    status: e.status as ImageStatus,
    filename: e.filename,
    contentType: e.contentType,
    declaredBytes: e.declaredBytes,
    originalKey: e.originalKey,
    bytes: e.bytes ?? null,
    width: e.width ?? null,
    height: e.height ?? null,
    variants: Array.isArray(e.variants) ? e.variants : [],
    placeholder: e.placeholder ?? null,
    failureReason: e.failureReason ?? null,
    version: e.version,
    processedVersion: e.processedVersion,
    sweeps: e.sweeps,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

/** A row of `select * from images` (or `returning *`) as the driver hands it over. */
interface RawImage {
  id: string;
  owner_id: string;
  status: string;
  filename: string;
  content_type: string;
  declared_bytes: number;
  original_key: string;
  bytes: number | null;
  width: number | null;
  height: number | null;
  variants: VariantRow[];
  placeholder: string | null;
  failure_reason: string | null;
  version: number;
  processed_version: number;
  sweeps: number;
  created_at: Date;
  updated_at: Date;
}

function fromRaw(r: RawImage): ImageRow {
  return toImageRow({
    id: r.id,
    ownerId: r.owner_id,
    status: r.status,
    filename: r.filename,
    contentType: r.content_type,
    declaredBytes: r.declared_bytes,
    originalKey: r.original_key,
    bytes: r.bytes,
    width: r.width,
    height: r.height,
    variants: r.variants,
    placeholder: r.placeholder,
    failureReason: r.failure_reason,
    version: r.version,
    processedVersion: r.processed_version,
    sweeps: r.sweeps,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  });
}

// ----------------------------------------------------------- repository

/** What a new upload is made of. */
export interface NewImage {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  declaredBytes: number;
  originalKey: string;
}

/** What a finished processing writes. */
export interface ProcessedImage {
  id: string;
  /** The version the job processed; the write happens only if it is still unfinished. */
  version: number;
  contentType: string;
  width: number;
  height: number;
  placeholder: string;
  variants: readonly VariantRow[];
}

/** The outcome of {@link MediaRepository.finishProcessing}. */
export type FinishOutcome =
  | { committed: true; image: ImageRow; superseded: readonly VariantRow[] }
  | { committed: false; image: ImageRow | null };

/**
 * Reads and writes of one request or job, over its own forked
 * EntityManager. Ids that are not UUIDs must be filtered out by the caller.
 */
export interface MediaRepository {
  /** Images in the order of `ids`, null where there is none. */
  imagesByIds(ids: readonly string[]): Promise<(ImageRow | null)[]>;
  imageById(id: string): Promise<ImageRow | null>;
  insertImage(image: NewImage): Promise<ImageRow>;
  /**
   * AWAITING_UPLOAD → PROCESSING with the uploaded size, if the image is
   * `ownerId`'s and still awaiting its upload; null otherwise (someone else,
   * or a concurrent call, got there first).
   */
  markUploaded(id: string, ownerId: string, bytes: number): Promise<ImageRow | null>;
  /** Deletes `ownerId`'s image (and the avatars showing it); the deleted row, or null. */
  deleteImage(id: string, ownerId: string): Promise<ImageRow | null>;
  /**
   * Asks for the image to be processed again: bumps its version; a FAILED
   * image becomes PROCESSING, a READY one stays READY (its variants remain
   * visible) until the new ones replace them. Null when there is nothing to
   * reprocess (no such image, or still awaiting its upload).
   */
  requestReprocess(id: string): Promise<ImageRow | null>;
  /**
   * Writes the variants of `version`, only if that version is the image's
   * current one and not finished yet; of two jobs racing, exactly one commits.
   * Returns the variants it replaced, for the caller to delete.
   */
  finishProcessing(result: ProcessedImage): Promise<FinishOutcome>;
  /**
   * Records that `version` cannot be processed: a PROCESSING image becomes
   * FAILED with `reason`; a READY one (a failed reprocess) keeps its current
   * variants. Null when the version was finished or superseded already.
   */
  failProcessing(id: string, version: number, reason: string): Promise<ImageRow | null>;
  /** Images whose processing has not finished and has not moved for `olderThanSeconds`. */
  stalledImages(olderThanSeconds: number, limit: number): Promise<ImageRow[]>;
  /**
   * Restarts the sweeper's clock of `version`, counting a sweep when `requeued`
   * (its job had to be added again). Null when the version finished meanwhile.
   */
  noteSwept(id: string, version: number, requeued: boolean): Promise<number | null>;
  /** Makes `imageId` the avatar of `userId`. */
  setAvatar(userId: string, imageId: string): Promise<void>;
  /** The avatar image of each user in `userIds`, null where none is set. */
  avatarsByUserIds(userIds: readonly string[]): Promise<(ImageRow | null)[]>;
  /** Runs `fn` in a transaction: all of its writes happen, or none. */
  transaction<T>(fn: (repo: MediaRepository) => Promise<T>): Promise<T>;
}

/** Runs raw SQL returning image rows, inside `em`'s transaction if it has one. */
async function imageRows(em: EntityManager, sql: string, params: unknown[]): Promise<ImageRow[]> {
  return (await em.execute<RawImage[]>(sql, params, 'all')).map(fromRaw);
}

function createRepository(em: EntityManager): MediaRepository {
  const rows = (sql: string, params: unknown[]) => imageRows(em, sql, params);
  const one = async (sql: string, params: unknown[]) => (await rows(sql, params))[0] ?? null;

  const repo: MediaRepository = {
    async imagesByIds(ids) {
      const found = ids.length ? await em.find(Image, { id: { $in: [...new Set(ids)] } }) : [];
      const byId = new Map(found.map((i) => [i.id, toImageRow(i)]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async imageById(id) {
      const [image] = await repo.imagesByIds([id]);
      return image ?? null;
    },
    async insertImage(image) {
      const now = new Date();
      const entity: ImageEntity = {
        ...image,
        status: 'AWAITING_UPLOAD',
        bytes: null,
        width: null,
        height: null,
        variants: [],
        placeholder: null,
        failureReason: null,
        version: 1,
        processedVersion: 0,
        sweeps: 0,
        createdAt: now,
        updatedAt: now,
      };
      await em.insert(Image, entity);
      return toImageRow(entity);
    },
    markUploaded: (id, ownerId, bytes) =>
      one(
        `update images set status = 'PROCESSING', bytes = ?, updated_at = now()
         where id = ? and owner_id = ? and status = 'AWAITING_UPLOAD' returning *`,
        [bytes, id, ownerId],
      ),
    deleteImage: (id, ownerId) =>
      one('delete from images where id = ? and owner_id = ? returning *', [id, ownerId]),
    requestReprocess: (id) =>
      one(
        `update images set version = version + 1, sweeps = 0, failure_reason = null,
           status = case when status = 'FAILED' then 'PROCESSING' else status end,
           updated_at = now()
         where id = ? and status <> 'AWAITING_UPLOAD' returning *`,
        [id],
      ),
    finishProcessing: (result) =>
      em.transactional(async (tx) => {
        const [image = null] = await imageRows(tx, 'select * from images where id = ? for update', [
          result.id,
        ]);
        if (
          !image ||
          image.version !== result.version ||
          image.processedVersion >= result.version ||
          image.status === 'AWAITING_UPLOAD'
        ) {
          return { committed: false, image } satisfies FinishOutcome;
        }
        const [updated] = await imageRows(
          tx,
          `update images set status = 'READY', content_type = ?, width = ?, height = ?,
               placeholder = ?, variants = ?::jsonb, failure_reason = null,
               processed_version = ?, updated_at = now()
             where id = ? returning *`,
          [
            result.contentType,
            result.width,
            result.height,
            result.placeholder,
            JSON.stringify(result.variants),
            result.version,
            result.id,
          ],
        );
        const kept = new Set(result.variants.map((v) => v.key));
        return {
          committed: true,
          image: updated!,
          superseded: image.variants.filter((v) => !kept.has(v.key)),
        } satisfies FinishOutcome;
      }),
    failProcessing: (id, version, reason) =>
      one(
        `update images set
           status = case when status = 'PROCESSING' then 'FAILED' else status end,
           failure_reason = case when status = 'PROCESSING' then ? else failure_reason end,
           processed_version = ?, updated_at = now()
         where id = ? and version = ? and processed_version < ?
           and status in ('PROCESSING', 'READY')
         returning *`,
        [reason, version, id, version, version],
      ),
    stalledImages: (olderThanSeconds, limit) =>
      rows(
        `select * from images
         where processed_version < version and status in ('PROCESSING', 'READY')
           and updated_at < now() - make_interval(secs => ?)
         order by updated_at limit ?`,
        [olderThanSeconds, limit],
      ),
    async noteSwept(id, version, requeued) {
      const image = await one(
        `update images set sweeps = sweeps + ?, updated_at = now()
         where id = ? and version = ? and processed_version < version returning *`,
        [requeued ? 1 : 0, id, version],
      );
      return image?.sweeps ?? null;
    },
    async setAvatar(userId, imageId) {
      await em.execute(
        `insert into avatars (user_id, image_id, updated_at) values (?, ?, now())
         on conflict (user_id) do update set image_id = excluded.image_id, updated_at = now()`,
        [userId, imageId],
        'run',
      );
    },
    async avatarsByUserIds(userIds) {
      const unique = [...new Set(userIds)];
      const found = unique.length ? await em.find(Avatar, { userId: { $in: unique } }) : [];
      const images = await repo.imagesByIds(found.map((a) => a.imageId));
      const byUser = new Map(found.map((a, i) => [a.userId, images[i] ?? null]));
      return userIds.map((id) => byUser.get(id) ?? null);
    },
    transaction: (fn) => em.transactional((tx) => fn(createRepository(tx))),
  };
  return repo;
}

// ---------------------------------------------------------------- store

/** How to reach the database. */
export interface StoreOptions {
  databaseUrl: string;
  logger?: Logger;
  /** Largest number of pooled connections. */
  poolSize?: number;
}

/** The opened store. */
export type Store = SessionStore<MediaRepository>;

// Any fixed 64-bit number: instances starting together take turns migrating.
const MIGRATION_LOCK = 0x6d65646961n; // "media"

/**
 * Opens the media database: creates it if missing, applies pending
 * migrations (one instance at a time), and returns the repository factory.
 */
export function openStore(options: StoreOptions): Promise<Store> {
  return openSessionStore({
    databaseUrl: options.databaseUrl,
    entities: [Image, Avatar],
    migrationsList,
    migrationLock: MIGRATION_LOCK,
    logger: options.logger,
    poolSize: options.poolSize,
    repository: createRepository,
  });
}
