import type { EntityManager } from '@mikro-orm/postgresql';
import type { MigrationObject } from '@mikro-orm/core';
import type { Logger } from '@arcadia/observability';
import { migrationLockKey, openDatabase } from './database.js';

/** How a service reaches its store's database: what its config parsing gives it. */
export interface StoreOptions {
  databaseUrl: string;
  logger?: Logger | undefined;
  /** Largest number of pooled connections (default 10). */
  poolSize?: number | undefined;
}

/** What a store is made of, fixed in the code of the domain that owns it. */
export interface StoreDefinition<R> {
  /**
   * The store's name, e.g. the subgraph's (`accounts`). Its migrations'
   * advisory-lock key is derived from it, so every process opening this
   * store must use the same name.
   */
  name: string;
  /** Every migration, in order. Append; never rename or reorder. */
  migrations: readonly MigrationObject[];
  /**
   * Builds the repository of one request or job over its own EntityManager
   * fork. Queries go through `em.execute(sql, params)`; several statements
   * that must commit together go through `em.transactional((tx) => …)`
   * (see the package documentation).
   */
  repository: (em: EntityManager) => R;
}

/** A domain's opened database, handing out one repository per request or job. */
export interface SessionStore<R> {
  /** A repository over a fresh fork of the EntityManager: nothing shared between requests. */
  session(): R;
  /** Throws when the database does not answer; drives `/ready`. */
  ping(): Promise<void>;
  /** Closes the pool. The store answers nothing afterwards; closing again does nothing. */
  close(): Promise<void>;
}

/**
 * Defines a domain's PostgreSQL store once, and returns the `openStore` that
 * its services call at start-up. Opening creates the database when missing,
 * applies pending migrations one instance at a time, and yields a store whose
 * `session()` builds `repository` over a forked EntityManager.
 *
 * @example
 * ```ts
 * export const openStore = defineStore({
 *   name: 'accounts',
 *   migrations: migrationsList,
 *   repository: createRepository,
 * });
 * const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
 * ```
 */
export function defineStore<R>(
  definition: StoreDefinition<R>,
): (options: StoreOptions) => Promise<SessionStore<R>> {
  const { name, migrations, repository } = definition;
  if (!name.trim()) throw new Error('a store needs a name');
  const lockKey = migrationLockKey(name);

  return async (options) => {
    const orm = await openDatabase({
      databaseUrl: options.databaseUrl,
      migrations,
      lockKey,
      logger: options.logger,
      poolSize: options.poolSize,
    });
    let closed: Promise<void> | null = null;
    const open = () => {
      // A closed pool would otherwise fail later and less clearly, or not at all.
      if (closed) throw new Error(`the ${name} store is closed`);
    };
    return {
      session() {
        open();
        return repository(orm.em.fork());
      },
      async ping() {
        open();
        await orm.em.getConnection().execute('select 1');
      },
      close() {
        closed ??= orm.close(true);
        return closed;
      },
    };
  };
}
