import { afterAll, describe, expect, it } from 'vitest';
import { defineStore, type SessionStore } from '../src/index.js';
import {
  brokenMigration,
  createWidgets,
  missingDatabases,
  seedWidget,
  widgetRepository,
  type WidgetRepository,
} from './fixtures.js';

const databases = missingDatabases();
afterAll(() => databases.drop());

const definition = { name: 'widgets', repository: widgetRepository };
const openV1 = defineStore({ ...definition, migrations: [createWidgets] });
const openV2 = defineStore({ ...definition, migrations: [createWidgets, seedWidget] });

/** Opens, hands the store to `fn`, and closes it whatever `fn` does. */
async function using<T>(
  opening: Promise<SessionStore<WidgetRepository>>,
  fn: (store: SessionStore<WidgetRepository>) => Promise<T>,
): Promise<T> {
  const store = await opening;
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('opening a store', () => {
  it('creates its database when missing, and opens it again without migrating twice', async () => {
    const db = databases.next();
    expect(await databases.exists(db.name)).toBe(false);

    await using(openV1({ databaseUrl: db.url }), async (store) => {
      expect(await databases.exists(db.name)).toBe(true);
      await store.session().add(7, 'kept');
    });
    await using(openV1({ databaseUrl: db.url }), async (store) => {
      const repo = store.session();
      expect(await repo.appliedMigrations()).toEqual(['0001-create-widgets']);
      expect(await repo.names()).toEqual(['kept']);
    });
  });

  it('applies only the migrations added since the last start', async () => {
    const db = databases.next();
    await using(openV1({ databaseUrl: db.url }), async (store) => {
      await store.session().add(7, 'kept');
    });
    await using(openV2({ databaseUrl: db.url }), async (store) => {
      const repo = store.session();
      expect(await repo.appliedMigrations()).toEqual(['0001-create-widgets', '0002-seed-widget']);
      expect(await repo.names()).toEqual(['seeded', 'kept']);
    });
  });

  it('lets instances starting at once on a missing database all succeed, each migration applied exactly once', async () => {
    const db = databases.next();
    // Every start races for both the creation of the database and the
    // migrations; a migration run twice would fail its start.
    const starts = await Promise.allSettled(
      Array.from({ length: 4 }, () => openV2({ databaseUrl: db.url, poolSize: 2 })),
    );
    const stores = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(starts.filter((s) => s.status === 'rejected')).toEqual([]);
      const repo = stores[0]!.session();
      expect(await repo.appliedMigrations()).toEqual(['0001-create-widgets', '0002-seed-widget']);
      expect(await repo.names()).toEqual(['seeded']);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('applies none of the pending migrations when one fails, and leaves the lock to the next start', async () => {
    const db = databases.next();
    const openBroken = defineStore({ ...definition, migrations: [createWidgets, brokenMigration] });
    await expect(openBroken({ databaseUrl: db.url })).rejects.toThrow(/no_such_table/);

    // Had the failed start kept the advisory lock, this one would wait forever.
    await using(openV1({ databaseUrl: db.url }), async (store) => {
      const repo = store.session();
      expect(await repo.appliedMigrations()).toEqual(['0001-create-widgets']);
      expect(await repo.names()).toEqual([]);
    });
  });
});
