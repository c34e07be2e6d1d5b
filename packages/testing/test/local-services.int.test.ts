import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from '../src/index.js';

// The same variables, defaults and parsing the services use: if this passes,
// a service started with the same environment reaches its store.
const config = parseEnv('smoke', {
  ...servicesEnv.postgres,
  ...servicesEnv.redis,
  ...servicesEnv.cassandra,
  ...servicesEnv.s3,
});

describe('local services', () => {
  it('PostgreSQL answers a query and lets the services create databases', async () => {
    const client = new pg.Client({
      connectionString: config.DATABASE_URL.replace(/\/[^/]*$/, '/postgres'),
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ createdb: boolean }>(
        'SELECT (rolcreatedb OR rolsuper) AS createdb FROM pg_roles WHERE rolname = current_user',
      );
      expect(rows[0]?.createdb).toBe(true);
    } finally {
      await client.end();
    }
  });

  it('Redis stores and returns a value', async () => {
    const redis = new Redis(config.REDIS_URL);
    const key = uniqueName('smoke');
    try {
      await redis.set(key, 'pong', 'EX', 10);
      expect(await redis.get(key)).toBe('pong');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('Cassandra runs CQL and keeps a row in a new keyspace', async () => {
    const client = new cassandra.Client({
      contactPoints: [...config.CASSANDRA_CONTACT_POINTS],
      localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
    });
    const keyspace = uniqueName('smoke');
    try {
      await client.connect();
      const version = await client.execute('SELECT release_version FROM system.local');
      expect(String(version.first()?.get('release_version'))).toMatch(/^5\./);
      await client.execute(
        `CREATE KEYSPACE ${keyspace} WITH replication = ${config.CASSANDRA_REPLICATION}`,
      );
      await client.execute(`CREATE TABLE ${keyspace}.t (id int PRIMARY KEY, v text)`);
      await client.execute(`INSERT INTO ${keyspace}.t (id, v) VALUES (?, ?)`, [1, 'hello'], {
        prepare: true,
      });
      const row = await client.execute(`SELECT v FROM ${keyspace}.t WHERE id = ?`, [1], {
        prepare: true,
      });
      expect(row.first()?.get('v')).toBe('hello');
    } finally {
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await client.shutdown();
    }
  }, 60_000);

  it('the S3 server stores and returns an object', async () => {
    const s3 = new S3Client({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials: {
        accessKeyId: config.S3_ACCESS_KEY_ID,
        secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const Bucket = uniqueName('smoke').replace(/_/g, '-');
    try {
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(
        new PutObjectCommand({
          Bucket,
          Key: 'hello.txt',
          Body: 'hello s3',
          ContentType: 'text/plain',
        }),
      );
      const object = await s3.send(new GetObjectCommand({ Bucket, Key: 'hello.txt' }));
      expect(await object.Body?.transformToString()).toBe('hello s3');
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'hello.txt' })).catch(() => undefined);
      await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
      s3.destroy();
    }
  });
});
