import { describe, expect, it } from 'vitest';
import { migrationLockKey } from '../src/index.js';

describe('migrationLockKey', () => {
  it('derives the same key from the same name in every process and release', () => {
    // Pinned: a change would let instances of the old and the new release
    // migrate the same database at once during a rolling deploy.
    expect(migrationLockKey('accounts')).toBe(-2910225489348352461n);
    expect(migrationLockKey('accounts')).toBe(migrationLockKey('accounts'));
  });

  it('derives different keys from different names', () => {
    const keys = ['accounts', 'media', 'chat', 'tickets', 'store'].map(migrationLockKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('fits the signed 64-bit key that pg_advisory_lock takes', () => {
    for (const name of ['accounts', 'media', 'chat', 'a', 'ü'.repeat(100)]) {
      const key = migrationLockKey(name);
      expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
    }
  });
});
