/**
 * Opens a subgraph's own Cassandra keyspace: creates it with the configured
 * replication, then applies the subgraph's schema migrations once each, in
 * order. Instances starting together may both run a migration, so every
 * statement must be idempotent (`IF NOT EXISTS`); the record of applied
 * migrations only saves the work on later starts.
 */
import cassandra from 'cassandra-driver';
import type { Logger } from '@arcadia/observability';

export { cassandra };

/** One schema change: CQL statements run in order, each idempotent. */
export interface CqlMigration {
  /** Unique, sortable name, e.g. `0001-messages`. */
  readonly name: string;
  readonly statements: readonly string[];
}

/** Where the cluster is and what keyspace a service owns. */
export interface KeyspaceOptions {
  contactPoints: readonly string[];
  localDataCenter: string;
  keyspace: string;
  /**
   * The keyspace's replication as a CQL map, e.g.
   * `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`; applied when the keyspace is created.
   */
  replication: string;
  migrations: readonly CqlMigration[];
  logger?: Logger | undefined;
}

/** An open keyspace: a driver client bound to it. */
export interface Keyspace {
  readonly client: cassandra.Client;
  readonly name: string;
  /** Throws when no node answers; drives `/ready`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/** Consistency for every statement: a majority of replicas in the local data centre. */
const queryOptions: cassandra.QueryOptions = {
  prepare: true,
  consistency: cassandra.types.consistencies.localQuorum,
  serialConsistency: cassandra.types.consistencies.localSerial,
};

/** Creates the keyspace when missing, applies pending migrations and returns a client bound to it. */
export async function openKeyspace(options: KeyspaceOptions): Promise<Keyspace> {
  const { keyspace, logger } = options;
  if (!KEYSPACE_NAME.test(keyspace)) {
    throw new Error(`invalid keyspace name "${keyspace}" (lowercase letters, digits, _; ≤ 48)`);
  }
  const base = {
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    queryOptions,
    // Schema changes wait until every node agrees before the next statement.
    protocolOptions: { maxSchemaAgreementWaitSeconds: 30 },
  };
  const admin = new cassandra.Client(base);
  try {
    await admin.connect();
    await admin.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${options.replication}`,
      [],
      { prepare: false },
    );
  } finally {
    await admin.shutdown();
  }

  const client = new cassandra.Client({ ...base, keyspace });
  try {
    await client.connect();
    await migrate(client, options.migrations, logger);
  } catch (error) {
    await client.shutdown();
    throw error;
  }
  return {
    client,
    name: keyspace,
    async ping() {
      await client.execute('SELECT release_version FROM system.local', [], { prepare: false });
    },
    close: () => client.shutdown(),
  };
}

async function migrate(
  client: cassandra.Client,
  migrations: readonly CqlMigration[],
  logger: Logger | undefined,
): Promise<void> {
  const ddl = { prepare: false } as const;
  await client.execute(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamp)',
    [],
    ddl,
  );
  const { rows } = await client.execute('SELECT name FROM schema_migrations', [], ddl);
  const applied = new Set(rows.map((row) => row.get('name') as string));
  const done: string[] = [];
  for (const migration of [...migrations].sort((a, b) => a.name.localeCompare(b.name))) {
    if (applied.has(migration.name)) continue;
    for (const statement of migration.statements) await client.execute(statement, [], ddl);
    await client.execute(
      'INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)',
      [migration.name, new Date()],
      { prepare: true },
    );
    done.push(migration.name);
  }
  if (done.length) logger?.info({ migrations: done }, 'cassandra migrations applied');
}

/** Drops a keyspace (tests). */
export async function dropKeyspace(
  options: Pick<KeyspaceOptions, 'contactPoints' | 'localDataCenter' | 'keyspace'>,
): Promise<void> {
  const client = new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
  });
  try {
    await client.connect();
    await client.execute(`DROP KEYSPACE IF EXISTS ${options.keyspace}`);
  } finally {
    await client.shutdown();
  }
}
