import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { QUEUES, runWorker, type PushJob, type RunningWorker } from '@arcadia/queues';
import { uniqueName, eventually } from '@arcadia/testing';
import { createPushNotifier, type PushNotifier } from '../src/index.js';

const { REDIS_URL } = parseEnv('push-test', servicesEnv.redis);
const connection = { url: REDIS_URL };
const WINDOW_MS = 300;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A notifier on a prefix of its own, so tests never see each other's jobs. */
function isolated() {
  const prefix = uniqueName('push');
  const notifier = createPushNotifier({ connection, prefix, collapseWindowMs: WINDOW_MS });
  closers.push(async () => {
    await notifier.queue.queue.obliterate({ force: true });
    await notifier.close();
  });
  return { prefix, notifier };
}

/** A worker that records what it is given, optionally holding each run until released. */
function recordingWorker(prefix: string, hold?: Promise<void>) {
  const seen: PushJob[] = [];
  const running: RunningWorker = runWorker(
    QUEUES.push,
    async (job) => {
      seen.push(job.data);
      await hold;
    },
    { connection, prefix, concurrency: 4 },
  );
  closers.push(() => running.close(true));
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function message(userId: string, conversationId: string, n: number): PushJob {
  return {
    userId,
    collapseKey: `chat:${conversationId}`,
    title: 'Nova',
    body: `message ${n}`,
    url: `/chat/${conversationId}`,
    data: { conversationId },
    count: n,
    sentAt: new Date().toISOString(),
  };
}

/**
 * Checks that `conversation` got exactly `count` notifications, without
 * sleeping: a message of another conversation, notified now, is due one
 * window later and goes through the same worker; once it has arrived, any
 * further job of `conversation` (due no later) would have arrived too.
 */
async function expectNoMoreFor(
  notifier: PushNotifier,
  seen: PushJob[],
  user: string,
  conversation: string,
  count: number,
) {
  const control = randomUUID();
  await notifier.notify(message(user, control, 1));
  await eventually(() => seen.some((j) => j.collapseKey === `chat:${control}`), {
    what: 'the control notification',
  });
  expect(seen.filter((j) => j.collapseKey === `chat:${conversation}`)).toHaveLength(count);
}

async function pending(notifier: PushNotifier) {
  const jobs = await notifier.queue.queue.getJobs(['delayed', 'waiting', 'active']);
  return jobs.map((job) => job.data);
}

describe('collapsing notifications', () => {
  it('keeps one job for three messages of a conversation, carrying the last body and count', async () => {
    const { notifier } = isolated();
    const user = randomUUID();
    const conversation = randomUUID();
    for (let n = 1; n <= 3; n++) await notifier.notify(message(user, conversation, n));

    const jobs = await pending(notifier);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ userId: user, body: 'message 3', count: 3 });
  });

  it('keeps one job when the same messages are notified at once', async () => {
    const { notifier } = isolated();
    const user = randomUUID();
    const conversation = randomUUID();
    await Promise.all([1, 2, 3].map((n) => notifier.notify(message(user, conversation, n))));
    expect(await pending(notifier)).toHaveLength(1);
  });

  it('makes a second job for another conversation, and another user', async () => {
    const { notifier } = isolated();
    const user = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    await notifier.notify(message(user, first, 1));
    await notifier.notify(message(user, second, 1));
    await notifier.notify(message(user, first, 2));
    await notifier.notify(message(randomUUID(), first, 1));

    const jobs = await pending(notifier);
    expect(jobs).toHaveLength(3);
    expect(jobs.find((j) => j.userId === user && j.collapseKey === `chat:${first}`)?.body).toBe(
      'message 2',
    );
  });

  it('sends the collapsed notification when the window ends, and a later message makes a new one', async () => {
    const { prefix, notifier } = isolated();
    const user = randomUUID();
    const conversation = randomUUID();
    const due = async () => {
      const [job] = await notifier.queue.queue.getJobs(['delayed']);
      return Number(job!.timestamp) + Number(job!.delay);
    };
    await notifier.notify(message(user, conversation, 1));
    const firstDue = await due();
    await sleep(WINDOW_MS / 2);
    await notifier.notify(message(user, conversation, 2));
    // Due one window after the first message, not one window after the last:
    // a busy conversation is not put off for as long as it goes on.
    expect(Math.abs((await due()) - firstDue)).toBeLessThan(50);

    const seen = recordingWorker(prefix);
    await eventually(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ body: 'message 2', count: 2 });

    await notifier.notify(message(user, conversation, 3));
    expect(await pending(notifier)).toHaveLength(1);
    await eventually(() => seen.length === 2);
    expect(seen[1]).toMatchObject({ body: 'message 3', count: 3 });
    await expectNoMoreFor(notifier, seen, user, conversation, 2);
  });

  it('does not lose a message that arrives while its notification is being sent', async () => {
    const { prefix, notifier } = isolated();
    const user = randomUUID();
    const conversation = randomUUID();
    let release!: () => void;
    const seen = recordingWorker(
      prefix,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    await notifier.notify(message(user, conversation, 1));
    await eventually(() => seen.length === 1);

    // The first notification is being sent; two more messages come meanwhile.
    await notifier.notify(message(user, conversation, 2));
    await notifier.notify(message(user, conversation, 3));
    release();

    await eventually(() => seen.length === 2);
    expect(seen.map((j) => j.body)).toEqual(['message 1', 'message 3']);
    await expectNoMoreFor(notifier, seen, user, conversation, 2);
  });

  it('does not lose a message that arrives after the window ended but before a worker took the job', async () => {
    const { prefix, notifier } = isolated();
    const user = randomUUID();
    const conversation = randomUUID();
    await notifier.notify(message(user, conversation, 1));
    // The window ends while every worker is busy: the job waits to be taken.
    const [job] = await notifier.queue.queue.getJobs(['delayed']);
    await job!.promote();
    expect(await job!.getState()).toBe('waiting');

    await notifier.notify(message(user, conversation, 2));
    const seen = recordingWorker(prefix);
    await eventually(() => seen.length === 2);
    expect(seen.map((j) => j.body)).toEqual(['message 1', 'message 2']);
  });

  it('adds a notification given twice only once', async () => {
    const { notifier } = isolated();
    const job = message(randomUUID(), randomUUID(), 1);
    await notifier.notify(job);
    await notifier.notify(job);
    expect(await pending(notifier)).toHaveLength(1);
  });

  it('refuses a malformed notification', async () => {
    const { notifier } = isolated();
    await expect(
      notifier.notify({ ...message(randomUUID(), randomUUID(), 1), userId: '', sentAt: 'soon' }),
    ).rejects.toThrow(/userId.*sentAt/);
  });
});
