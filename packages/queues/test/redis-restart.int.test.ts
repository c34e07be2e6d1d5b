import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startPrivateRedis, uniqueName, type PrivateRedis } from '@arcadia/testing';
import { createQueue, QUEUES, runWorker, type MediaJob } from '../src/index.js';

// These tests kill and restart Redis, so each runs a redis-server of its own
// (startPrivateRedis, configured with the same persistence flags as
// scripts/services/services.sh and docker-compose.yml), never the shared one.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function privateRedis(args?: string[]): Promise<PrivateRedis> {
  const redis = await startPrivateRedis(args ? { args } : {});
  cleanups.push(() => redis.dispose());
  return redis;
}

const mediaJob = (): MediaJob => ({ imageId: randomUUID(), reason: 'upload', version: 1 });

/** Adds one job, with no worker running, and closes the producer; resolves to the job id. */
async function enqueueOne(redis: PrivateRedis, prefix: string, data: MediaJob): Promise<string> {
  const queue = createQueue(QUEUES.media, { connection: { url: redis.url }, prefix });
  try {
    return await queue.enqueue(data);
  } finally {
    await queue.close();
  }
}

/** Everything in the server's append-only files (Redis 7 keeps them in appendonlydir/). */
async function appendOnlyFiles(redis: PrivateRedis): Promise<string> {
  const files = (await readdir(redis.dir, { recursive: true })).filter((f) => f.endsWith('.aof'));
  const contents = await Promise.all(files.map((f) => readFile(join(redis.dir, f), 'latin1')));
  return contents.join('');
}

describe('queued jobs across a Redis restart', () => {
  it('runs a job queued before Redis was killed and started again, with the append-only file on', async () => {
    const redis = await privateRedis();
    const prefix = uniqueName('restart');
    const data = mediaJob();
    const jobId = await enqueueOne(redis, prefix, data);

    // appendfsync everysec: Redis writes each command to the AOF before its
    // next event-loop turn and fsyncs it within a second. A killed process
    // (not a lost machine) keeps what reached the file, so wait until the job
    // is in it — the window everysec promises — then kill without a clean
    // shutdown, which would have flushed the AOF anyway.
    await eventually(async () => (await appendOnlyFiles(redis)).includes(jobId));
    await redis.kill();
    await redis.start();

    const ran: MediaJob[] = [];
    const worker = runWorker(
      QUEUES.media,
      async (job) => {
        ran.push(job.data);
      },
      { connection: { url: redis.url }, prefix, concurrency: 1 },
    );
    cleanups.push(() => worker.close(true));
    await eventually(() => ran.length > 0);
    expect(ran).toEqual([data]);
  });

  it('loses that job without the append-only file, so persistence is what keeps it', async () => {
    const redis = await privateRedis(['--appendonly', 'no']);
    const prefix = uniqueName('restart');
    const data = mediaJob();
    const jobId = await enqueueOne(redis, prefix, data);

    const queue = createQueue(QUEUES.media, { connection: { url: redis.url }, prefix });
    cleanups.push(() => queue.close());
    // The job was there before the restart: what the restart takes away.
    expect(await queue.isPending(data)).toBe(true);
    await queue.close();

    await redis.kill();
    await redis.start();

    const after = createQueue(QUEUES.media, { connection: { url: redis.url }, prefix });
    cleanups.push(() => after.close());
    expect(await after.queue.getJob(jobId)).toBeUndefined();
    expect(await after.isPending(data)).toBe(false);
  });
});
