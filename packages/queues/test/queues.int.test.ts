import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName, eventually } from '@arcadia/testing';
import {
  createQueue,
  jobIdFor,
  QUEUES,
  runWorker,
  UnrecoverableError,
  type JobRun,
  type MediaJob,
  type RunningWorker,
} from '../src/index.js';

const { REDIS_URL } = parseEnv('queues-test', servicesEnv.redis);
const connection = { url: REDIS_URL };
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** A queue and its own prefix, so tests never see each other's jobs. */
function isolatedQueue(retry = { attempts: 3, backoffMs: 20 }) {
  const prefix = uniqueName('queues');
  const queue = createQueue(QUEUES.media, { connection, prefix, retry });
  closers.push(async () => {
    await queue.queue.obliterate({ force: true });
    await queue.close();
  });
  return { prefix, queue };
}

function worker(prefix: string, processor: (job: JobRun<MediaJob>) => Promise<unknown>) {
  const running = runWorker(QUEUES.media, processor, { connection, prefix, concurrency: 2 });
  closers.push(() => running.close(true));
  return running;
}

const mediaJob = (version = 1): MediaJob => ({ imageId: randomUUID(), reason: 'upload', version });

describe('job ids', () => {
  it('derives the media job id from the image and version, without colons', () => {
    const data = mediaJob(3);
    expect(jobIdFor('media', data)).toBe(`image-${data.imageId}-v3`);
    expect(jobIdFor('media', { ...data, reason: 'sweep' })).toBe(jobIdFor('media', data));
    expect(jobIdFor('media', { ...data, version: 4 })).not.toBe(jobIdFor('media', data));
  });
});

describe('queues and workers', () => {
  it('adds one job however many times the same payload is enqueued', async () => {
    const { queue } = isolatedQueue();
    const data = mediaJob();
    const ids = await Promise.all([queue.enqueue(data), queue.enqueue(data), queue.enqueue(data)]);
    expect(new Set(ids).size).toBe(1);
    expect(await queue.queue.getJobCountByTypes('wait', 'delayed', 'active')).toBe(1);
  });

  it('retries a failing job with backoff and tells the processor which attempt it is', async () => {
    const { prefix, queue } = isolatedQueue();
    const seen: [number, number][] = [];
    worker(prefix, async (job) => {
      seen.push([job.attempt, job.maxAttempts]);
      if (job.attempt < 3) throw new Error('transient');
      return 'done';
    });
    await queue.enqueue(mediaJob());
    await eventually(() => seen.length === 3);
    expect(seen).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('does not retry a job that failed with UnrecoverableError', async () => {
    const { prefix, queue } = isolatedQueue();
    let runs = 0;
    worker(prefix, async () => {
      runs++;
      throw new UnrecoverableError('bad data');
    });
    const id = await queue.enqueue(mediaJob());
    await eventually(async () => (await queue.queue.getJob(id))?.failedReason === 'bad data');
    // Failed for good, not waiting for a retry: BullMQ's own record, no sleep.
    const job = await queue.queue.getJob(id);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
    expect(runs).toBe(1);
  });

  it('re-enqueues a failed job under the same id, but leaves a waiting one alone', async () => {
    const { prefix, queue } = isolatedQueue({ attempts: 1, backoffMs: 10 });
    const data = mediaJob();
    let runs = 0;
    const w = worker(prefix, async () => {
      runs++;
      if (runs === 1) throw new Error('first run fails');
    });
    await queue.enqueue(data);
    await eventually(
      async () => (await (await queue.queue.getJob(jobIdFor('media', data)))?.isFailed()) === true,
    );
    expect(await queue.enqueue(data)).toBe(jobIdFor('media', data));
    // That enqueue added nothing: the id still names the failed job, nothing waits.
    expect(await (await queue.queue.getJob(jobIdFor('media', data)))?.getState()).toBe('failed');
    expect(await queue.queue.getJobCountByTypes('wait', 'delayed', 'active')).toBe(0);
    expect(runs).toBe(1);

    await w.close();
    expect(await queue.isPending(data)).toBe(false);
    expect(await queue.reenqueue(data)).toBe(true);
    expect(await queue.isPending(data)).toBe(true);
    expect(await queue.reenqueue(data)).toBe(false);
    worker(prefix, async () => {
      runs++;
    });
    await eventually(() => runs === 2);
  });

  it('closes gracefully: a running job finishes before close resolves', async () => {
    const { prefix, queue } = isolatedQueue();
    let finished = false;
    let started = false;
    const w: RunningWorker = worker(prefix, async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 200));
      finished = true;
    });
    await queue.enqueue(mediaJob());
    await eventually(() => started);
    await w.close();
    expect(finished).toBe(true);
  });
});
