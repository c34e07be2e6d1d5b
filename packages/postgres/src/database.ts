import { createHash } from 'node:crypto';
import pg from 'pg';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { MigrationObject } from '@mikro-orm/core';
import type { Logger } from '@arcadia/observability';

/** What {@link openDatabase} needs. */
export interface DatabaseOptions {
  databaseUrl: string;
  /** Every migration, in order; applied ones are recorded in `mikro_orm_migrations`. */
  migrations: readonly MigrationObject[];
  /** The advisory lock instances take turns on while migrating (see {@link migrationLockKey}). */
  lockKey: bigint;
  logger?: Logger | undefined;
  /** Largest number of pooled connections. */
  poolSize?: number | undefined;
}

/**
 * The advisory-lock key of a store's migrations: the first 64 bits of a
 * SHA-256 of its name, as the signed bigint `pg_advisory_lock` takes. The
 * same name gives the same key in every process and release, so instances
 * of one store (a subgraph and its worker) take turns; advisory locks are
 * per database, so stores of different databases never wait on each other.
 */
export function migrationLockKey(name: string): bigint {
  return createHash('sha256').update(`arcadia:migrations:${name}`).digest().readBigInt64BE(0);
}

/**
 * Opens a PostgreSQL database with MikroORM (pool, EntityManager,
 * transactions, migrator; no entities): creates the database when missing,
 * surviving instances racing for it, then applies pending migrations under
 * an advisory lock, one instance at a time.
 */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const { databaseUrl, logger } = options;
  await ensureDatabase(databaseUrl);
  const orm = await MikroORM.init({
    clientUrl: databaseUrl,
    // Queries are plain SQL (see the package documentation): nothing to discover.
    entities: [],
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    // Created above, in a way that survives two instances racing for it.
    ensureDatabase: false,
    metadataCache: { enabled: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    debug: false,
    logger: (message) => logger?.debug({ orm: message }, 'mikro-orm'),
    // Knex's own warnings (a pooled connection lost, say) go to the service's
    // log as JSON rather than to the console.
    driverOptions: {
      log: {
        warn: (message: unknown) => logger?.warn({ knex: message }, 'knex'),
        error: (message: unknown) => logger?.error({ knex: message }, 'knex'),
        deprecate: (message: unknown) => logger?.warn({ knex: message }, 'knex deprecation'),
        debug: (message: unknown) => logger?.debug({ knex: message }, 'knex'),
      },
    },
    migrations: {
      migrationsList: [...options.migrations],
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
    await migrate(orm, databaseUrl, options.lockKey, logger);
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
  // A connection of its own, outside the pool: the lock is held by a session,
  // and the migrator needs pool connections for its transaction meanwhile.
  // Ending the connection releases the lock, also when a migration failed.
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [lockKey.toString()]);
    // Read after taking the lock, so an instance that waited sees what the
    // one before it applied and applies nothing twice.
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
    // Another instance created it first: 42P04 duplicate_database when its
    // create had committed before ours began, 23505 unique_violation (on
    // pg_database's name index) when both were under way at once.
    const code = (error as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw error;
  } finally {
    await admin.end();
  }
}
