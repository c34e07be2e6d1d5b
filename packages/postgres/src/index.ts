/**
 * PostgreSQL stores, one shape for every domain that keeps data in PostgreSQL.
 *
 * **Decision: MikroORM for the plumbing, plain SQL for the queries.**
 *
 * - MikroORM provides the connection pool, the EntityManager forked per
 *   request or job (`session()`), transactions (`em.transactional`) and
 *   migrations (hand-written `Migration` classes listed in order, applied at
 *   start-up under an advisory lock).
 * - Every query is plain parameterised SQL run through the EntityManager:
 *   `em.execute<Row[]>(sql, params)` for rows,
 *   `em.execute<QueryResult>(sql, params, 'run')` for `affectedRows`.
 *   Placeholders are `?`; MikroORM escapes each value into the statement
 *   (an array becomes a list, for `in (?)` or `array[?]::text[]`; a plain
 *   object becomes JSON; other JSON goes as `JSON.stringify(value)` into
 *   `?::jsonb`). Rows come back with snake_case columns and timestamps as
 *   strings; each repository maps them to its own row types.
 * - No EntitySchemas, no entities, no query builder: the tables are the
 *   migrations' business, and the SQL in a repository is the SQL that runs.
 *
 * `em.execute` runs inside the EntityManager's transaction when it has one;
 * `em.getConnection().execute` and `em.getKnex()` do not (unless handed the
 * transaction context), so repositories use `em.execute`. Statements that must
 * commit together run in one `em.transactional(async (tx) => …)` call, every
 * statement through `tx`; nested calls become savepoints. A repository offers
 * the same to its callers as
 * `transaction: (fn) => em.transactional((tx) => fn(createRepository(tx)))`.
 *
 * A domain declares its store once with {@link defineStore} (name, migrations,
 * repository factory) and exports the `openStore` it returns.
 *
 * @packageDocumentation
 */
export {
  defineStore,
  type SessionStore,
  type StoreDefinition,
  type StoreOptions,
} from './store.js';
export { migrationLockKey } from './database.js';
