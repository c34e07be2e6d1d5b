/**
 * The media store: the only module that talks to PostgreSQL. Everything else
 * sees repository functions and plain rows. The media worker opens the same
 * store (through `@arcadia/media/domain`): one domain, one database.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { defineStore, type SessionStore } from '@arcadia/postgres';
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

// ------------------------------------------------------------ raw rows

/**
 * A row of `select * from images` (or `returning *`) as the driver hands it
 * over: snake_case columns, timestamps as text (MikroORM's pg type parsers
 * leave them unparsed), `variants` parsed from jsonb. The table is created by
 * the hand-written migrations.
 */
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
  variants: VariantRow[] | null;
  placeholder: string | null;
  failure_reason: string | null;
  version: number;
  processed_version: number;
  sweeps: number;
  created_at: string;
  updated_at: string;
}

function fromRaw(r: RawImage): ImageRow {
  return {
    id: r.id,
    ownerId: r.owner_id,
    status: r.status as ImageStatus,
    filename: r.filename,
    contentType: r.content_type,
    declaredBytes: r.declared_bytes,
    originalKey: r.original_key,
    bytes: r.bytes,
    width: r.width,
    height: r.height,
    variants: Array.isArray(r.variants) ? r.variants : [],
    placeholder: r.placeholder,
    failureReason: r.failure_reason,
    version: r.version,
    processedVersion: r.processed_version,
    sweeps: r.sweeps,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
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
      const found = ids.length
        ? await rows('select * from images where id in (?)', [[...new Set(ids)]])
        : [];
      const byId = new Map(found.map((i) => [i.id, i]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async imageById(id) {
      const [image] = await repo.imagesByIds([id]);
      return image ?? null;
    },
    async insertImage(image) {
      // Status, version counters, variants and timestamps take the defaults
      // of the migration.
      const inserted = await one(
        `insert into images (id, owner_id, filename, content_type, declared_bytes, original_key)
         values (?, ?, ?, ?, ?, ?)
         returning *`,
        [
          image.id,
          image.ownerId,
          image.filename,
          image.contentType,
          image.declaredBytes,
          image.originalKey,
        ],
      );
      return inserted!;
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
      const found = unique.length
        ? await em.execute<(RawImage & { avatar_user_id: string })[]>(
            `select a.user_id as avatar_user_id, i.* from avatars a
             join images i on i.id = a.image_id
             where a.user_id in (?)`,
            [unique],
            'all',
          )
        : [];
      const byUser = new Map(found.map((r) => [r.avatar_user_id, fromRaw(r)]));
      return userIds.map((id) => byUser.get(id) ?? null);
    },
    transaction: (fn) => em.transactional((tx) => fn(createRepository(tx))),
  };
  return repo;
}

// ---------------------------------------------------------------- store

/** The opened store. */
export type Store = SessionStore<MediaRepository>;

/**
 * Opens the media database: creates it if missing, applies pending
 * migrations (one instance at a time), and returns the repository factory.
 */
export const openStore = defineStore({
  name: 'media',
  migrations: migrationsList,
  repository: createRepository,
});
