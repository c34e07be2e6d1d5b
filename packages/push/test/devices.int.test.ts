import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { uniqueName } from '@arcadia/testing';
import {
  createPushDevices,
  InvalidSubscriptionError,
  WELL_KNOWN_PUSH_SERVICES,
  type PushSubscriptionRecord,
} from '../src/index.js';

const { REDIS_URL } = parseEnv('push-test', servicesEnv.redis);
const redis = new Redis(REDIS_URL);
const prefix = `${uniqueName('push')}:`;
afterAll(async () => {
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 })) {
    if ((keys as string[]).length) await redis.del(...(keys as string[]));
  }
  await redis.quit();
});

/** A subscription as a browser would make it: a fresh P-256 key and auth secret. */
function subscription(endpoint = `https://fcm.googleapis.com/fcm/send/${randomUUID()}`) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    keys: {
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    },
  } satisfies PushSubscriptionRecord;
}

const devices = createPushDevices({ redis, prefix, maxDevices: 3 });

describe('the device registry', () => {
  it('lists a registered subscription, newest first, and forgets an unregistered one', async () => {
    const user = randomUUID();
    const phone = { ...subscription(), userAgent: 'Phone' };
    const laptop = subscription('https://updates.push.services.mozilla.com/wpush/v2/abc');
    await devices.register(user, phone);
    await devices.register(user, laptop);

    const listed = await devices.list(user);
    expect(listed.map((d) => d.endpoint)).toEqual([laptop.endpoint, phone.endpoint]);
    expect(listed[1]).toMatchObject({ keys: phone.keys, userAgent: 'Phone' });
    expect(Date.parse(listed[1]!.registeredAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await devices.list(randomUUID())).toEqual([]);

    expect(await devices.unregister(user, phone.endpoint)).toBe(true);
    expect(await devices.unregister(user, phone.endpoint)).toBe(false);
    expect((await devices.list(user)).map((d) => d.endpoint)).toEqual([laptop.endpoint]);
    expect(await devices.remove(user, laptop.endpoint)).toBe(true);
    expect(await devices.list(user)).toEqual([]);
  });

  it('keeps one device per endpoint when a client registers again, with new keys and the first createdAt', async () => {
    const user = randomUUID();
    const first = await devices.register(user, {
      ...subscription(),
      createdAt: '2025-01-02T03:04:05.000Z',
    });
    const again = await devices.register(user, { ...subscription(first.endpoint) });
    const listed = await devices.list(user);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      keys: again.keys,
      createdAt: '2025-01-02T03:04:05.000Z',
    });
    expect(listed[0]!.registeredAt >= first.registeredAt).toBe(true);

    const other = await devices.register(user, subscription());
    await new Promise((r) => setTimeout(r, 5));
    const refreshed = await devices.register(user, subscription(other.endpoint));
    expect(refreshed.createdAt).toBe(other.createdAt);
    expect(refreshed.registeredAt > other.registeredAt).toBe(true);
  });

  it('keeps the most recently registered devices beyond the cap', async () => {
    const user = randomUUID();
    const subs = [subscription(), subscription(), subscription(), subscription()];
    for (const sub of subs.slice(0, 3)) {
      await devices.register(user, sub);
      await new Promise((r) => setTimeout(r, 5));
    }
    // The oldest registers again, so the second-oldest is the one dropped.
    await devices.register(user, subs[0]!);
    await new Promise((r) => setTimeout(r, 5));
    await devices.register(user, subs[3]!);

    const listed = (await devices.list(user)).map((d) => d.endpoint);
    expect(listed).toEqual([subs[3]!.endpoint, subs[0]!.endpoint, subs[2]!.endpoint]);
  });

  it('keeps each user to their own devices', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const sub = subscription();
    await devices.register(alice, sub);
    expect(await devices.list(bob)).toEqual([]);
    expect(await devices.unregister(bob, sub.endpoint)).toBe(false);
    expect(await devices.list(alice)).toHaveLength(1);
  });

  it.each([
    ['an http endpoint', { endpoint: 'http://fcm.googleapis.com/fcm/send/x' }, /https/],
    ['an endpoint that is no URL', { endpoint: 'not a url' }, /URL/],
    ['an endpoint on localhost', { endpoint: 'https://localhost:8443/push' }, /push service/],
    ['an endpoint on an IP address', { endpoint: 'https://10.0.0.1/push' }, /push service/],
    [
      'an endpoint with credentials',
      { endpoint: 'https://u:p@fcm.googleapis.com/x' },
      /credentials/,
    ],
    ['a p256dh that is no base64url', { keys: { p256dh: 'a+b/', auth: 'x' } }, /p256dh/],
    ['a p256dh of the wrong size', { keys: { p256dh: 'AAAA', auth: 'x' } }, /p256dh.*65 bytes/],
    ['an auth secret of the wrong size', { keys: { auth: 'AAAA' } }, /auth.*16 bytes/],
    ['a createdAt that is no date', { createdAt: 'yesterday' }, /createdAt/],
  ])('refuses %s', async (_name, change, reason) => {
    const base = subscription();
    const bad = { ...base, ...change, keys: { ...base.keys, ...(change as any).keys } };
    const user = randomUUID();
    const error = await devices.register(user, bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidSubscriptionError);
    expect((error as Error).message).toMatch(reason);
    expect(await devices.list(user)).toEqual([]);
  });

  it('accepts http and local endpoints only when told to, and padded keys', async () => {
    const insecure = createPushDevices({ redis, prefix, allowInsecure: true });
    const user = randomUUID();
    const sub = subscription('http://127.0.0.1:8080/push/1');
    const padded = { ...sub, keys: { p256dh: `${sub.keys.p256dh}=`, auth: `${sub.keys.auth}==` } };
    const device = await insecure.register(user, padded);
    expect(device.keys).toEqual(sub.keys);
  });

  it('keeps endpoints to the push services it is given', async () => {
    const strict = createPushDevices({ redis, prefix, allowedHosts: WELL_KNOWN_PUSH_SERVICES });
    const user = randomUUID();
    await strict.register(user, subscription('https://fcm.googleapis.com/fcm/send/a'));
    await strict.register(user, subscription('https://web.push.apple.com/QG9'));
    await expect(
      strict.register(user, subscription('https://internal.example.com/push')),
    ).rejects.toThrow(/known push service/);
    expect(await strict.list(user)).toHaveLength(2);
  });
});
