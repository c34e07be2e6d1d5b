import { Migration } from '@mikro-orm/migrations';

/**
 * Users, partner API clients and refresh-token families.
 *
 * Handles and emails are unique regardless of case through unique indexes on
 * lower(): the database, not a pre-check, decides who gets a name, so two
 * concurrent sign-ups cannot both win. Only hashes of secrets are stored.
 */
export class InitialSchema extends Migration {
  override up(): void {
    this.addSql(`
      create table users (
        id uuid primary key,
        handle text not null check (char_length(handle) between 3 and 24),
        email text not null check (char_length(email) between 3 and 254),
        display_name text not null check (char_length(display_name) between 1 and 50),
        password_hash text not null,
        roles text[] not null default '{USER}',
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create unique index users_handle_lower_key on users (lower(handle))');
    this.addSql('create unique index users_email_lower_key on users (lower(email))');

    this.addSql(`
      create table api_clients (
        id uuid primary key,
        user_id uuid not null references users (id) on delete cascade,
        name text not null,
        scopes text[] not null,
        secret_hash text not null,
        created_at timestamptz not null default now(),
        revoked_at timestamptz
      )`);
    this.addSql('create index api_clients_user_id_idx on api_clients (user_id)');

    // A family is one sign-in: every refresh token rotated from it shares it,
    // and revoking it (sign-out, reuse detected) ends them all at once.
    this.addSql(`
      create table refresh_token_families (
        id uuid primary key,
        user_id uuid not null references users (id) on delete cascade,
        client_id uuid references api_clients (id) on delete cascade,
        created_at timestamptz not null default now(),
        revoked_at timestamptz
      )`);
    this.addSql(
      'create index refresh_token_families_user_id_idx on refresh_token_families (user_id)',
    );

    this.addSql(`
      create table refresh_tokens (
        id uuid primary key,
        family_id uuid not null references refresh_token_families (id) on delete cascade,
        parent_id uuid references refresh_tokens (id) on delete cascade,
        secret_hash text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz
      )`);
    this.addSql('create index refresh_tokens_family_id_idx on refresh_tokens (family_id)');
    this.addSql('create index refresh_tokens_parent_id_idx on refresh_tokens (parent_id)');
    this.addSql('create index refresh_tokens_expires_at_idx on refresh_tokens (expires_at)');
  }

  override down(): void {
    this.addSql('drop table if exists refresh_tokens');
    this.addSql('drop table if exists refresh_token_families');
    this.addSql('drop table if exists api_clients');
    this.addSql('drop table if exists users');
  }
}
