import pg from 'pg';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from './ids.js';

/** A database made for one test file, dropped by `drop()`. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Runs SQL on the database (assertions about what was written, setting up states). */
  query<TRow extends Record<string, any> = Record<string, any>>(
    text: string,
    values?: unknown[],
  ): Promise<TRow[]>;
  /** Closes the connection of `query`, then drops the database. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database on the server of `DATABASE_URL` (the same
 * variable the services read), so test files never share tables.
 */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const { DATABASE_URL } = parseEnv('testing', servicesEnv.postgres);
  const name = uniqueName(prefix);
  const admin = new URL(DATABASE_URL);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  // One connection for the test's own queries, opened on the first one.
  let connection: Promise<pg.Client> | undefined;
  const connect = async () => {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    return client;
  };
  return {
    url: url.toString(),
    name,
    async query(text, values) {
      const client = await (connection ??= connect());
      return (await client.query(text, values)).rows;
    },
    async drop() {
      const open = connection;
      connection = undefined;
      // A connection that failed to open or close is cut by the forced drop anyway.
      if (open) await open.then((client) => client.end()).catch(() => undefined);
      await run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
