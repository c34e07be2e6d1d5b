import { randomBytes } from 'node:crypto';

/**
 * A name no other test run uses, safe as a database, keyspace, queue or
 * Redis prefix: lowercase letters, digits and underscores.
 */
export function uniqueName(prefix = 'test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.toLowerCase();
}
