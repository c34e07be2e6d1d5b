import { Migration } from '@mikro-orm/migrations';

/**
 * Images and avatars.
 *
 * `version` counts processing requests (1 at upload, +1 per reprocess) and
 * `processed_version` the last one finished: a job is for one version, and
 * only the first job to finish a version may write its variants, so retried,
 * duplicated or stale jobs cannot overwrite newer work. Owners are user ids
 * of the accounts subgraph, referenced by value (no cross-database key).
 */
export class InitialSchema extends Migration {
  override up(): void {
    this.addSql(`
      create table images (
        id uuid primary key,
        owner_id uuid not null,
        status text not null default 'AWAITING_UPLOAD'
          check (status in ('AWAITING_UPLOAD', 'PROCESSING', 'READY', 'FAILED')),
        filename text not null check (char_length(filename) between 1 and 255),
        content_type text not null,
        declared_bytes integer not null check (declared_bytes > 0),
        original_key text not null,
        bytes integer,
        width integer,
        height integer,
        variants jsonb not null default '[]',
        placeholder text,
        failure_reason text,
        version integer not null default 1,
        processed_version integer not null default 0,
        sweeps integer not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create index images_owner_id_idx on images (owner_id, created_at desc)');
    // The sweeper's question: which processing has not finished for a while?
    this.addSql(`
      create index images_pending_idx on images (updated_at)
        where processed_version < version and status in ('PROCESSING', 'READY')`);

    this.addSql(`
      create table avatars (
        user_id uuid primary key,
        image_id uuid not null references images (id) on delete cascade,
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create index avatars_image_id_idx on avatars (image_id)');
  }

  override down(): void {
    this.addSql('drop table if exists avatars');
    this.addSql('drop table if exists images');
  }
}
