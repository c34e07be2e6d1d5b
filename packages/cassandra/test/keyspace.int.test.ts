import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from '@arcadia/testing';
import { dropKeyspace, openKeyspace, type CqlMigration } from '../src/index.js';

const config = parseEnv('cassandra-test', servicesEnv.cassandra);
const where = {
  contactPoints: config.CASSANDRA_CONTACT_POINTS,
  localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
  keyspace: uniqueName('ks'),
};
const migrations: CqlMigration[] = [
  {
    name: '0001-notes',
    statements: ['CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text)'],
  },
];

afterAll(() => dropKeyspace(where));

describe('openKeyspace', () => {
  it('creates the keyspace and its tables, and a second start applies nothing twice', async () => {
    const first = await openKeyspace({
      ...where,
      replication: config.CASSANDRA_REPLICATION,
      migrations,
    });
    await first.client.execute('INSERT INTO notes (id, body) VALUES (?, ?)', [1, 'kept']);
    await first.close();

    const second = await openKeyspace({
      ...where,
      replication: config.CASSANDRA_REPLICATION,
      migrations: [
        ...migrations,
        { name: '0002-tags', statements: ['ALTER TABLE notes ADD tags set<text>'] },
      ],
    });
    try {
      const { rows } = await second.client.execute('SELECT body FROM notes WHERE id = ?', [1]);
      expect(rows[0]?.get('body')).toBe('kept');
      const applied = await second.client.execute('SELECT name FROM schema_migrations');
      expect(applied.rows.map((r) => r.get('name') as string).sort()).toEqual([
        '0001-notes',
        '0002-tags',
      ]);
      await expect(second.ping()).resolves.toBeUndefined();
    } finally {
      await second.close();
    }
  });

  it('refuses a keyspace name that CQL would not accept', async () => {
    await expect(
      openKeyspace({ ...where, keyspace: 'Bad-Name', replication: '{}', migrations }),
    ).rejects.toThrow(/invalid keyspace name/);
  });
});
