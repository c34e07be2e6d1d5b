import pg from 'pg';
import { Migration } from '@mikro-orm/migrations';
import type { EntityManager } from '@mikro-orm/postgresql';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from '@arcadia/testing';

const { DATABASE_URL } = parseEnv('postgres-test', servicesEnv.postgres);

/** The URL of database `name` on the shared server. */
function databaseUrl(name: string): string {
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Names of databases that do not exist yet, for the store to create; `drop()`
 * removes every one handed out. (`createTestDatabase` creates its database,
 * which is the opposite of what these tests need.)
 */
export function missingDatabases() {
  const names: string[] = [];
  return {
    next(): { name: string; url: string } {
      const name = uniqueName('pg_store');
      names.push(name);
      return { name, url: databaseUrl(name) };
    },
    exists: (name: string) =>
      onServer(
        async (admin) =>
          (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount ===
          1,
      ),
    /** Drops database `name` now, closing whatever is connected to it. */
    dropNow: (name: string) =>
      onServer(async (admin) => {
        await admin.query(`drop database if exists ${admin.escapeIdentifier(name)} with (force)`);
      }),
    drop: () =>
      onServer(async (admin) => {
        for (const name of names)
          await admin.query(`drop database if exists ${admin.escapeIdentifier(name)} with (force)`);
      }),
  };
}

// Plain `create table` and `insert` with a primary key: run twice, either
// fails, so a start that applied one again would fail loudly.

/** Creates `widgets`. */
export class CreateWidgets extends Migration {
  override up(): void {
    this.addSql('create table widgets (id integer primary key, name text not null)');
  }
}

/** Inserts widget 1. */
export class SeedWidget extends Migration {
  override up(): void {
    this.addSql(`insert into widgets (id, name) values (1, 'seeded')`);
  }
}

/** Fails, after the migrations before it ran. */
export class BrokenMigration extends Migration {
  override up(): void {
    this.addSql('select * from no_such_table');
  }
}

export const createWidgets = { name: '0001-create-widgets', class: CreateWidgets };
export const seedWidget = { name: '0002-seed-widget', class: SeedWidget };
export const brokenMigration = { name: '0003-broken', class: BrokenMigration };

/** A repository over the test tables, written the way the domains write theirs. */
export interface WidgetRepository {
  /** The EntityManager fork it runs on, for the isolation checks. */
  readonly em: EntityManager;
  names(): Promise<string[]>;
  add(id: number, name: string): Promise<void>;
  /** Inserts every widget in one transaction: all of them, or none. */
  addAll(widgets: readonly { id: number; name: string }[]): Promise<void>;
  appliedMigrations(): Promise<string[]>;
  transaction<T>(fn: (repo: WidgetRepository) => Promise<T>): Promise<T>;
}

/** Builds a {@link WidgetRepository} over `em`. */
export function widgetRepository(em: EntityManager): WidgetRepository {
  const insert = 'insert into widgets (id, name) values (?, ?)';
  return {
    em,
    async names() {
      const rows = await em.execute<{ name: string }[]>('select name from widgets order by id');
      return rows.map((r) => r.name);
    },
    async add(id, name) {
      await em.execute(insert, [id, name], 'run');
    },
    async addAll(widgets) {
      await em.transactional(async (tx) => {
        for (const w of widgets) await tx.execute(insert, [w.id, w.name], 'run');
      });
    },
    async appliedMigrations() {
      const rows = await em.execute<{ name: string }[]>(
        'select name from mikro_orm_migrations order by id',
      );
      return rows.map((r) => r.name);
    },
    transaction: (fn) => em.transactional((tx) => fn(widgetRepository(tx))),
  };
}
