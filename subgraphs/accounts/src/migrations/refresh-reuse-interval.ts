import { Migration } from '@mikro-orm/migrations';

/**
 * The successor of a spent refresh token, sealed so that only the holder of
 * the spent token can open it: a concurrent duplicate refresh within the
 * reuse interval gets the same successor pair instead of revoking the session.
 * Cleared once the interval is over.
 */
export class RefreshReuseInterval extends Migration {
  override up(): void {
    this.addSql('alter table refresh_tokens add column successor_sealed text');
  }

  override down(): void {
    this.addSql('alter table refresh_tokens drop column if exists successor_sealed');
  }
}
