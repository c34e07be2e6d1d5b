import pg from 'pg';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from './ids.js';

/** A database made for one test file, dropped by `drop()`. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
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
  return {
    url: url.toString(),
    name,
    drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
