import pg from 'pg';
import { MikroORM, type EntityManager, type EntitySchema } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { MigrationObject } from '@mikro-orm/core';
import type { Logger } from '@arcadia/observability';

/** What a subgraph's store needs to open its own database. */
export interface DatabaseOptions {
  databaseUrl: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  entities: EntitySchema<any, any>[];
  migrationsList: MigrationObject[];
  /** Any fixed 64-bit number, one per database: instances starting together take turns migrating. */
  migrationLock: bigint;
  logger?: Logger | undefined;
  /** Largest number of pooled connections. */
  poolSize?: number | undefined;
}

/**
 * Opens a subgraph's own PostgreSQL database with MikroORM: creates it when
 * missing (surviving two instances racing for it) and applies pending
 * migrations under an advisory lock, one instance at a time.
 */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const { databaseUrl, logger } = options;
  await ensureDatabase(databaseUrl);
  const orm = await MikroORM.init({
    clientUrl: databaseUrl,
    entities: options.entities,
    extensions: [Migrator],
    // Created above, in a way that survives two instances racing for it.
    ensureDatabase: false,
    // Reads always see the database, never a copy cached earlier in the request.
    disableIdentityMap: true,
    metadataCache: { enabled: false },
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    debug: false,
    logger: (message) => logger?.debug({ orm: message }, 'mikro-orm'),
    migrations: {
      migrationsList: options.migrationsList,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
      // Disabling them needs superuser rights, which a production role lacks.
      disableForeignKeys: false,
    },
  });
  try {
    await migrate(orm, databaseUrl, options.migrationLock, logger);
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}

async function migrate(
  orm: MikroORM,
  databaseUrl: string,
  lockKey: bigint,
  logger: Logger | undefined,
): Promise<void> {
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [lockKey.toString()]);
    const applied = await orm.getMigrator().up();
    if (applied.length)
      logger?.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  } finally {
    await lock.end();
  }
}

/** Creates the database of `databaseUrl` when missing, via the `postgres` database of the same server. */
async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL must name a database');
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return;
    await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  } catch (error) {
    // 42P04 duplicate_database: another instance created it first.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await admin.end();
  }
}

/** A subgraph's opened database, handing out one repository per request or job. */
export interface SessionStore<R> {
  /** A repository over a fresh fork of the EntityManager: nothing shared between requests. */
  session(): R;
  /** Throws when the database does not answer; drives `/ready`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the database (see {@link openDatabase}) and wraps it as a store whose
 * `session()` builds `repository` over a forked EntityManager.
 */
export async function openSessionStore<R>(
  options: DatabaseOptions & { repository: (em: EntityManager) => R },
): Promise<SessionStore<R>> {
  const orm = await openDatabase(options);
  return {
    session: () => options.repository(orm.em.fork()),
    async ping() {
      await orm.em.getConnection().execute('select 1');
    },
    async close() {
      await orm.close(true);
    },
  };
}
