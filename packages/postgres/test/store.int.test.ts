import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@arcadia/testing';
import { defineStore, type SessionStore } from '../src/index.js';
import { createWidgets, widgetRepository, type WidgetRepository } from './fixtures.js';

const openStore = defineStore({
  name: 'widgets',
  migrations: [createWidgets],
  repository: widgetRepository,
});

let db: TestDatabase;
let store: SessionStore<WidgetRepository>;

beforeAll(async () => {
  db = await createTestDatabase('pg_store');
  store = await openStore({ databaseUrl: db.url, poolSize: 4 });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('a store session', () => {
  it('has an EntityManager and identity map of its own', () => {
    const a = store.session();
    const b = store.session();
    expect(a.em).not.toBe(b.em);
    expect(a.em.getUnitOfWork().getIdentityMap()).not.toBe(b.em.getUnitOfWork().getIdentityMap());
  });

  it('keeps what its open transaction wrote from other sessions until it commits', async () => {
    const a = store.session();
    const b = store.session();
    await a.transaction(async (tx) => {
      await tx.add(10, 'pending');
      expect(await tx.names()).toContain('pending');
      expect(await b.names()).not.toContain('pending');
    });
    expect(await b.names()).toContain('pending');
  });

  it('runs several statements in one transaction with one call: all of them commit, or none', async () => {
    const repo = store.session();
    await repo.addAll([
      { id: 20, name: 'first' },
      { id: 21, name: 'second' },
    ]);
    expect(await repo.names()).toEqual(expect.arrayContaining(['first', 'second']));

    // The second insert violates the primary key, after the first succeeded.
    await expect(
      repo.addAll([
        { id: 22, name: 'rolled back' },
        { id: 20, name: 'duplicate' },
      ]),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await repo.names()).not.toContain('rolled back');
  });

  it('rolls back a repository transaction whose function throws', async () => {
    const repo = store.session();
    await expect(
      repo.transaction(async (tx) => {
        await tx.add(30, 'thrown away');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await repo.names()).not.toContain('thrown away');
  });
});

describe('ping and close', () => {
  it('answers a ping while open, and refuses work once closed', async () => {
    const other = await createTestDatabase('pg_store');
    try {
      const closing = await openStore({ databaseUrl: other.url });
      await expect(closing.ping()).resolves.toBeUndefined();
      await closing.close();
      await expect(closing.ping()).rejects.toThrow(/closed/);
      expect(() => closing.session()).toThrow(/closed/);
      await expect(closing.close()).resolves.toBeUndefined();
    } finally {
      await other.drop();
    }
  });

  it('fails a ping once the database is gone', async () => {
    const doomed = await createTestDatabase('pg_store');
    const gone = await openStore({ databaseUrl: doomed.url });
    try {
      await expect(gone.ping()).resolves.toBeUndefined();
      await doomed.drop();
      await expect(gone.ping()).rejects.toThrow();
    } finally {
      await gone.close();
      await doomed.drop();
    }
  });
});
