import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { imageTrigger, type MediaStorage } from '@arcadia/media/domain';
import { image, mediaSubgraph, upload, type MediaUnderTest } from '@arcadia/media/testing';
import {
  eventually,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import { processImage, RETRIES_EXHAUSTED, type ProcessorDeps } from '../src/processor.js';
import type { MediaWorker } from '../src/run.js';
import { sweepStalledImages, SWEPT_OUT } from '../src/sweeper.js';
import { jpeg } from './fixtures.js';
import { startWorker } from './worker-harness.js';

let h: SubgraphHarness<MediaUnderTest>;
let alice: TestUser;
let photo: Buffer;
const workers: MediaWorker[] = [];

beforeAll(async () => {
  // Three attempts, 50 ms apart at first: retries run out in well under a second.
  h = await startSubgraphHarness({
    subject: mediaSubgraph({ MEDIA_JOB_ATTEMPTS: '3', MEDIA_JOB_BACKOFF_MS: '50' }),
    peers: [accountsSubgraph()],
  });
  alice = await h.signUp();
  photo = await jpeg(800, 600);
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close(true)));
});
afterAll(() => h?.stop());

// Short locks so a dead worker's job is taken over within about a second. Every
// worker of the file uses them: BullMQ runs one stalled-job check per queue and
// interval, so a worker with a long interval would delay the others' checks.
const FAST_TAKEOVER = { MEDIA_LOCK_DURATION_MS: '1000', MEDIA_STALLED_INTERVAL_MS: '500' };

function worker(options: { storage?: MediaStorage } = {}) {
  const w = startWorker(h.subject, { ...options, env: FAST_TAKEOVER });
  workers.push(w);
  return w;
}

/** The real storage with some of its calls replaced. */
function storageWith(overrides: Partial<MediaStorage>): MediaStorage {
  return { ...h.subject.storage, ...overrides };
}

type ImageEvent = Parameters<MediaUnderTest['pubsub']['publish']>[1]['image'];

const unavailable = () =>
  Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9000'), { code: 'ECONNREFUSED' });

async function row(id: string) {
  const [r] = await h.subject.db.query('select * from images where id = $1', [id]);
  return r!;
}

/** Events of an image, straight from pub/sub; resolves once the subscription is live. */
async function imageEvents(id: string) {
  const events: ImageEvent[] = [];
  const source = h.subject.pubsub.subscribe(imageTrigger(id));
  void (async () => {
    for await (const event of source) events.push(event.image);
  })();
  await eventually(async () => (await h.subscribers(h.subject.imageChannel(id))) > 0, {
    what: `a pub/sub subscriber of image ${id}`,
  });
  return { events, stop: () => source.return?.() };
}

describe('when S3 fails', () => {
  it('retries a run that hit a brief outage, and the image ends READY', async () => {
    let calls = 0;
    worker({
      storage: storageWith({
        async getOriginal(key) {
          if (++calls === 1) throw unavailable();
          return h.subject.storage.getOriginal(key);
        },
      }),
    });
    const uploaded = await upload(h, alice, photo);
    const ready = await eventually(async () => {
      const seen = await image(h, uploaded.id, alice);
      return seen?.status === 'READY' && seen;
    });
    expect(calls).toBe(2);
    expect(ready.variants).toHaveLength(3);
  });

  it('fails the image with a reason once every attempt failed, leaving no variant behind', async () => {
    let calls = 0;
    worker({
      storage: storageWith({
        async putVariant(key, body, type) {
          calls++;
          // One variant gets through each time; the others do not.
          if (key.includes('/thumbnail-')) return h.subject.storage.putVariant(key, body, type);
          throw unavailable();
        },
      }),
    });
    const uploaded = await upload(h, alice, photo);
    const failed = await eventually(async () => {
      const seen = await image(h, uploaded.id, alice);
      return seen?.status === 'FAILED' && seen;
    });
    expect(failed.failureReason).toBe(RETRIES_EXHAUSTED(3));
    expect(failed.failureReason).not.toMatch(/10\.0\.0\.1|ECONNREFUSED/);
    expect(calls).toBe(9);
    // The stray variant is removed right after the row is FAILED, not before.
    await eventually(async () => (await h.subject.storage.listVariants(uploaded.id)).length === 0);
  });
});

describe('when a worker dies mid-job', () => {
  it('lets another worker finish the job: READY once, no duplicate or orphan objects', async () => {
    let wrote = 0;
    // The first worker writes one variant, then hangs as if its process froze.
    const doomed = worker({
      storage: storageWith({
        async putVariant(key, body, type) {
          if (wrote++ === 0) await h.subject.storage.putVariant(key, body, type);
          return new Promise<void>(() => undefined);
        },
      }),
    });
    const uploaded = await upload(h, alice, photo);
    const watching = await imageEvents(uploaded.id);
    await eventually(() => wrote > 0);
    expect(await h.subject.storage.listVariants(uploaded.id)).toHaveLength(1);
    // Killed: its lock is no longer renewed, and the job is left active.
    await doomed.close(true);

    worker();
    const ready = await eventually(async () => {
      const seen = await image(h, uploaded.id, alice);
      return seen?.status === 'READY' && seen;
    });
    const stored = (await h.subject.storage.listVariants(uploaded.id)).sort();
    const listed = ((await row(uploaded.id)).variants as { key: string }[])
      .map((v) => v.key)
      .sort();
    expect(stored).toEqual(listed);
    expect(stored).toHaveLength(3);
    expect(ready.variants).toHaveLength(3);
    const announced = await eventually(() => watching.events.find((e) => e.status === 'READY'), {
      what: 'the READY event',
    });
    // Positive control on the same channel, published once the queue has
    // nothing left to run: when it arrives, a second READY would have too.
    await eventually(
      async () =>
        (await h.subject.queue.queue.getJobCountByTypes('wait', 'active', 'delayed')) === 0,
      { what: 'the media queue drained' },
    );
    const CONTROL = 'positive control';
    await h.subject.pubsub.publish(imageTrigger(uploaded.id), {
      image: { ...announced, failureReason: CONTROL },
    });
    await eventually(() => watching.events.some((e) => e.failureReason === CONTROL), {
      what: 'the control event',
    });
    expect(
      watching.events.filter((e) => e.status === 'READY' && e.failureReason !== CONTROL),
    ).toHaveLength(1);
    expect((await row(uploaded.id)).processed_version).toBe(1);
    await watching.stop();
  });
});

describe('the sweeper', () => {
  const sweep = (maxSweeps = 3) =>
    sweepStalledImages({
      store: h.subject.store,
      queue: h.subject.queue,
      pubsub: h.subject.pubsub,
      logger: h.subject.logger,
      stuckAfterSeconds: 0,
      maxSweeps,
    });
  const loseJob = async (id: string) => {
    await (await h.subject.queue.queue.getJob(`image-${id}-v1`))?.remove();
  };

  it('leaves an image alone while its job is waiting', async () => {
    const uploaded = await upload(h, alice, photo);
    const report = await sweep();
    expect(report.requeued).not.toContain(uploaded.id);
    expect((await row(uploaded.id)).sweeps).toBe(0);
    await loseJob(uploaded.id);
  });

  it('re-enqueues an image whose job was lost, and a worker then makes it READY', async () => {
    const uploaded = await upload(h, alice, photo);
    await loseJob(uploaded.id);
    const report = await sweep();
    expect(report.requeued).toContain(uploaded.id);
    expect(await h.subject.queue.queue.getJob(`image-${uploaded.id}-v1`)).toBeDefined();
    worker();
    await eventually(async () => (await image(h, uploaded.id, alice))?.status === 'READY');
  });

  it('fails an image that was re-enqueued too often without finishing', async () => {
    const uploaded = await upload(h, alice, photo);
    for (let i = 0; i < 2; i++) {
      await loseJob(uploaded.id);
      expect((await sweep(2)).requeued).toContain(uploaded.id);
    }
    await loseJob(uploaded.id);
    expect((await sweep(2)).failed).toContain(uploaded.id);
    const failed = await image(h, uploaded.id, alice);
    expect(failed).toMatchObject({ status: 'FAILED', failureReason: SWEPT_OUT });
  });
});

describe('the processor, run without BullMQ', () => {
  const deps = (): ProcessorDeps => ({
    store: h.subject.store,
    storage: h.subject.storage,
    pubsub: h.subject.pubsub,
    logger: h.subject.logger,
    config: { maxPixels: 100_000_000 },
  });
  const run = (imageId: string, version = 1) => ({
    data: { imageId, reason: 'upload' as const, version },
    attempt: 1,
    maxAttempts: 3,
  });
  const unqueue = async (id: string) => {
    await (await h.subject.queue.queue.getJob(`image-${id}-v1`))?.remove();
  };

  it('lets exactly one of two simultaneous runs commit, and the other leave nothing behind', async () => {
    const uploaded = await upload(h, alice, photo);
    await unqueue(uploaded.id);
    const outcomes = await Promise.all([
      processImage(run(uploaded.id), deps()),
      processImage(run(uploaded.id), deps()),
    ]);
    expect(outcomes.filter((o) => o === 'ready')).toHaveLength(1);
    const listed = ((await row(uploaded.id)).variants as { key: string }[]).map((v) => v.key);
    expect((await h.subject.storage.listVariants(uploaded.id)).sort()).toEqual(listed.sort());
  });

  it('does nothing for a job of a version that is finished or superseded', async () => {
    const uploaded = await upload(h, alice, photo);
    await unqueue(uploaded.id);
    expect(await processImage(run(uploaded.id), deps())).toBe('ready');
    expect(await processImage(run(uploaded.id), deps())).toBe('skipped');
    await h.subject.db.query('update images set version = 3 where id = $1', [uploaded.id]);
    expect(await processImage(run(uploaded.id, 2), deps())).toBe('skipped');
    expect(await processImage(run('00000000-0000-4000-8000-000000000000'), deps())).toBe('skipped');
  });
});
