import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createLogger } from '@arcadia/observability';
import {
  createLogProvider,
  createPushDevices,
  createPushNotifier,
  createWebPushProvider,
  generateVapidKeys,
  topicFor,
  type PushNotifier,
  type PushProvider,
} from '@arcadia/push';
import type { PushJob } from '@arcadia/queues';
import { uniqueName, eventually } from '@arcadia/testing';
import { processPush } from '../src/processor.js';
import { startPushWorker, type PushWorker } from '../src/run.js';
import {
  startPushService,
  subscriber,
  verifyVapid,
  type PushService,
  type ReceivedPush,
} from './push-service.js';

const { REDIS_URL } = parseEnv('push-worker-test', servicesEnv.redis);
const WINDOW_MS = 300;
const vapid = generateVapidKeys();
const SUBJECT = 'mailto:push@arcadia.example';

const redis = new Redis(REDIS_URL);
const pushPrefix = `${uniqueName('push')}:`;
const devices = createPushDevices({ redis, prefix: pushPrefix, allowInsecure: true });
const silent = createLogger('push-worker', 'silent');
const webPush = createWebPushProvider({
  vapidPublicKey: vapid.publicKey,
  vapidPrivateKey: vapid.privateKey,
  subject: SUBJECT,
  ttlSeconds: 3600,
});

let service: PushService;
beforeAll(async () => {
  service = await startPushService();
});
afterAll(async () => {
  await service?.close();
  for await (const keys of redis.scanStream({ match: `${pushPrefix}*`, count: 500 })) {
    if ((keys as string[]).length) await redis.del(...(keys as string[]));
  }
  await redis.quit();
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A notifier and a worker in process on a queue prefix of their own. */
function pipeline(provider: PushProvider = webPush, logger = silent) {
  const prefix = uniqueName('push');
  const notifier = createPushNotifier({
    connection: { url: REDIS_URL },
    prefix,
    collapseWindowMs: WINDOW_MS,
    retry: { attempts: 3, backoffMs: 50 },
  });
  const worker: PushWorker = startPushWorker({
    config: { REDIS_URL, QUEUE_PREFIX: prefix, PUSH_CONCURRENCY: 4 },
    devices,
    provider,
    logger,
  });
  closers.push(async () => {
    await worker.close(true);
    await notifier.queue.queue.obliterate({ force: true });
    await notifier.close();
  });
  return notifier;
}

function message(userId: string, conversationId: string, n: number): PushJob {
  return {
    userId,
    collapseKey: `chat:${conversationId}`,
    title: 'Nova',
    body: `message ${n} ✨`,
    url: `/chat/${conversationId}`,
    data: { conversationId },
    count: n,
    sentAt: new Date().toISOString(),
  };
}

/** Nothing waiting, delayed or running: every notification has been dealt with. */
async function settled(notifier: PushNotifier) {
  return (await notifier.queue.queue.getJobCountByTypes('waiting', 'delayed', 'active')) === 0;
}

describe('offline recipients get a Web Push notification', () => {
  it('collapses three quick messages into one push the user reads with the latest text and count', async () => {
    const notifier = pipeline();
    const user = randomUUID();
    const conversation = randomUUID();
    const phone = subscriber(service);
    await devices.register(user, phone.subscription);

    for (let n = 1; n <= 3; n++) await notifier.notify(message(user, conversation, n));
    await eventually(() => service.to(phone.path).length === 1);
    // Positive control to the same phone, queued once the three are dealt
    // with: when it arrives, a second push of the conversation would have too.
    await eventually(() => settled(notifier));
    const other = randomUUID();
    await notifier.notify(message(user, other, 1));
    const tag = (push: ReceivedPush) => JSON.parse(phone.decrypt(push.body)).tag as string;
    await eventually(() => service.to(phone.path).some((p) => tag(p) === `chat:${other}`));
    const pushes = service.to(phone.path);
    expect(pushes.map(tag)).toEqual([`chat:${conversation}`, `chat:${other}`]);

    const push = pushes[0]!;
    expect(JSON.parse(phone.decrypt(push.body))).toEqual({
      title: 'Nova',
      body: 'message 3 ✨',
      url: `/chat/${conversation}`,
      tag: `chat:${conversation}`,
      count: 3,
      data: { conversationId: conversation },
    });
    expect(push.headers).toMatchObject({
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      ttl: '3600',
      urgency: 'high',
      topic: topicFor(`chat:${conversation}`),
    });
    const claims = verifyVapid(push.headers.authorization, vapid.publicKey);
    expect(claims).toMatchObject({ aud: service.url, sub: SUBJECT });
    expect(claims.exp * 1000).toBeGreaterThan(Date.now());
  });

  it('sends to each of the user’s devices, and a separate push per conversation', async () => {
    const notifier = pipeline();
    const user = randomUUID();
    const [phone, laptop] = [subscriber(service), subscriber(service)];
    await devices.register(user, phone.subscription);
    await devices.register(user, laptop.subscription);
    const [first, second] = [randomUUID(), randomUUID()];

    await notifier.notify(message(user, first, 1));
    await notifier.notify(message(user, second, 1));
    await eventually(
      () => service.to(phone.path).length === 2 && service.to(laptop.path).length === 2,
    );
    const tags = service.to(laptop.path).map((p) => JSON.parse(laptop.decrypt(p.body)).tag);
    expect(tags.sort()).toEqual([`chat:${first}`, `chat:${second}`].sort());
  });

  it('removes a device whose push service answers 410 Gone, and still reaches the others', async () => {
    const notifier = pipeline();
    const user = randomUUID();
    const [stale, current] = [subscriber(service), subscriber(service)];
    service.answer(stale.path, 410);
    await devices.register(user, stale.subscription);
    await devices.register(user, current.subscription);

    await notifier.notify(message(user, randomUUID(), 1));
    await eventually(() => settled(notifier));
    expect(service.to(stale.path)).toHaveLength(1);
    expect(service.to(current.path)).toHaveLength(1);
    expect((await devices.list(user)).map((d) => d.endpoint)).toEqual([
      current.subscription.endpoint,
    ]);
  });

  it('tries again while a push service is unavailable, and the notification arrives once it is back', async () => {
    const notifier = pipeline();
    const user = randomUUID();
    const phone = subscriber(service);
    service.answer(phone.path, 503, 429);
    await devices.register(user, phone.subscription);

    await notifier.notify(message(user, randomUUID(), 1));
    await eventually(() => settled(notifier));
    const pushes = service.to(phone.path);
    expect(pushes).toHaveLength(3);
    expect(JSON.parse(phone.decrypt(pushes[2]!.body)).body).toBe('message 1 ✨');
    expect(await devices.list(user)).toHaveLength(1);
  });

  it('shortens a preview too long for a push message, which still arrives whole', async () => {
    const notifier = pipeline();
    const user = randomUUID();
    const phone = subscriber(service);
    await devices.register(user, phone.subscription);

    await notifier.notify({ ...message(user, randomUUID(), 1), body: 'ä'.repeat(4000) });
    await eventually(() => service.to(phone.path).length === 1);
    const push = service.to(phone.path)[0]!;
    // What every push service must accept (RFC 8030 §7.2).
    expect(push.body.length).toBeLessThanOrEqual(4096);
    const { body } = JSON.parse(phone.decrypt(push.body)) as { body: string };
    expect(body).toMatch(/^ä{1000,}…$/);
  });

  it('does not retry a notification the push service refuses for good, nor drop the device', async () => {
    const user = randomUUID();
    const phone = subscriber(service);
    service.answer(phone.path, 403);
    await devices.register(user, phone.subscription);
    const job = { data: message(user, randomUUID(), 1), attempt: 1, maxAttempts: 3 };
    const outcome = await processPush(job, { devices, provider: webPush, logger: silent });
    expect(outcome).toEqual({ devices: 1, sent: 0, gone: 0, rejected: 1 });
    expect(await devices.list(user)).toHaveLength(1);
  });

  it('has nothing to send to a user without devices', async () => {
    const job = { data: message(randomUUID(), randomUUID(), 1), attempt: 1, maxAttempts: 3 };
    const outcome = await processPush(job, { devices, provider: webPush, logger: silent });
    expect(outcome).toEqual({ devices: 0, sent: 0, gone: 0, rejected: 0 });
  });
});

describe('the log provider', () => {
  it('writes one line per device with the user, title and body, and sends nothing', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      'push-worker',
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    const notifier = pipeline(createLogProvider(logger), logger);
    const user = randomUUID();
    const phone = subscriber(service);
    await devices.register(user, phone.subscription);

    await notifier.notify(message(user, randomUUID(), 1));
    await notifier.notify(message(user, randomUUID(), 1));
    await eventually(() => lines.filter((l) => l.msg === 'push notification').length === 2);
    expect(lines.find((l) => l.msg === 'push notification')).toMatchObject({
      userId: user,
      title: 'Nova',
      body: 'message 1 ✨',
    });
    // Positive control: a Web Push to the same phone, sent once the log
    // pipeline is done; it arrives alone, so the log provider sent nothing.
    await eventually(() => settled(notifier));
    const control = { data: message(user, randomUUID(), 2), attempt: 1, maxAttempts: 1 };
    await processPush(control, { devices, provider: webPush, logger: silent });
    const received = service.to(phone.path);
    expect(received).toHaveLength(1);
    expect(JSON.parse(phone.decrypt(received[0]!.body)).body).toBe('message 2 ✨');
  });
});
