/**
 * The devices a user receives push notifications on: their Web Push
 * subscriptions, kept in Redis. Clients register their subscription again on
 * every start (the Web Push norm), so a lost registry heals by itself.
 */
import type { Redis } from 'ioredis';
import { defineScripts, luaScript } from '@arcadia/redis';

/**
 * A Web Push subscription, as a browser's `PushSubscription.toJSON()` gives
 * it, plus what the client knows about it.
 */
export interface PushSubscriptionRecord {
  /** The push service URL to POST notifications to; unique per subscription. */
  readonly endpoint: string;
  readonly keys: {
    /** The subscription's P-256 public key, uncompressed point, base64url. */
    readonly p256dh: string;
    /** The subscription's 16-byte authentication secret, base64url. */
    readonly auth: string;
  };
  /** When the subscription was made (ISO 8601); the first registration's time when absent. */
  readonly createdAt?: string;
  /** The client's user agent, to tell devices apart in a device list. */
  readonly userAgent?: string;
}

/** A registered device: the subscription and when it was last registered. */
export interface PushDevice extends PushSubscriptionRecord {
  readonly createdAt: string;
  /** The last registration (ISO 8601, Redis clock); the oldest is dropped first. */
  readonly registeredAt: string;
}

/** Raised by {@link PushDevices.register} for a subscription that could not work. */
export class InvalidSubscriptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSubscriptionError';
  }
}

/** A user's push devices. */
export interface PushDevices {
  /**
   * Registers (or refreshes) a subscription of the user. When the user has
   * more than `maxDevices`, the ones registered longest ago are dropped.
   * Throws {@link InvalidSubscriptionError} for an endpoint that is not an
   * https URL of a push service, or keys that are not what Web Push needs.
   */
  register(userId: string, subscription: PushSubscriptionRecord): Promise<PushDevice>;
  /** Removes a subscription the user gave up (signed out, unsubscribed). True if it was there. */
  unregister(userId: string, endpoint: string): Promise<boolean>;
  /** The user's devices, most recently registered first. */
  list(userId: string): Promise<PushDevice[]>;
  /**
   * Removes a subscription the push service no longer knows (it answered
   * 404 or 410). True if it was there.
   */
  remove(userId: string, endpoint: string): Promise<boolean>;
}

/** What {@link createPushDevices} needs. */
export interface PushDevicesOptions {
  /** An ioredis client the caller owns (and closes); the registry never closes it. */
  redis: Redis;
  /** Namespace of the keys (`PUSH_PREFIX`); producers and the push worker must agree. */
  prefix: string;
  /** Devices kept per user; default 10. */
  maxDevices?: number;
  /**
   * Accepts `http:` endpoints and endpoints on IP addresses or localhost:
   * only for tests, whose stand-in push service listens on 127.0.0.1.
   */
  allowInsecure?: boolean;
  /**
   * When set, endpoints must be on one of these hosts or their subdomains
   * (e.g. {@link WELL_KNOWN_PUSH_SERVICES}): the push worker POSTs to
   * whatever endpoint a client registered, and this keeps it to push services.
   */
  allowedHosts?: readonly string[];
}

/**
 * The push services of the major browsers (Chrome, Edge, Firefox, Safari),
 * for {@link PushDevicesOptions.allowedHosts}.
 */
export const WELL_KNOWN_PUSH_SERVICES: readonly string[] = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'updates.push.services.mozilla.com',
  'push.services.mozilla.com',
  'notify.windows.com',
  'push.apple.com',
];

/** Devices kept per user unless configured otherwise. */
export const MAX_DEVICES_DEFAULT = 10;

const MAX_ENDPOINT_LENGTH = 2048;
const MAX_USER_AGENT_LENGTH = 256;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function decodeKey(value: unknown, name: string, bytes: number): string {
  if (typeof value !== 'string' || !BASE64URL.test(value)) {
    throw new InvalidSubscriptionError(`keys.${name} must be base64url`);
  }
  const unpadded = value.replace(/=+$/, '');
  const decoded = Buffer.from(unpadded, 'base64url');
  if (decoded.length !== bytes || decoded.toString('base64url') !== unpadded) {
    throw new InvalidSubscriptionError(`keys.${name} must be ${bytes} bytes`);
  }
  if (name === 'p256dh' && decoded[0] !== 0x04) {
    throw new InvalidSubscriptionError('keys.p256dh must be an uncompressed P-256 point');
  }
  return unpadded;
}

function isIpLiteral(hostname: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.startsWith('[');
}

/**
 * Checks a subscription and returns it in the form stored: keys without
 * padding, user agent shortened. Throws {@link InvalidSubscriptionError}.
 */
export function parseSubscription(
  input: PushSubscriptionRecord,
  options: Pick<PushDevicesOptions, 'allowInsecure' | 'allowedHosts'> = {},
): PushSubscriptionRecord {
  const { endpoint } = input ?? {};
  if (typeof endpoint !== 'string' || !endpoint || endpoint.length > MAX_ENDPOINT_LENGTH) {
    throw new InvalidSubscriptionError(
      `endpoint must be a URL of at most ${MAX_ENDPOINT_LENGTH} characters`,
    );
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidSubscriptionError('endpoint must be a URL');
  }
  const insecure = options.allowInsecure === true;
  if (url.protocol !== 'https:' && !(insecure && url.protocol === 'http:')) {
    throw new InvalidSubscriptionError('endpoint must be an https URL');
  }
  if (url.username || url.password) {
    throw new InvalidSubscriptionError('endpoint must not carry credentials');
  }
  const host = url.hostname.toLowerCase();
  if (!insecure && (host === 'localhost' || host.endsWith('.localhost') || isIpLiteral(host))) {
    throw new InvalidSubscriptionError('endpoint must be on a push service host');
  }
  if (
    options.allowedHosts &&
    !options.allowedHosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`))
  ) {
    throw new InvalidSubscriptionError('endpoint is not on a known push service');
  }
  const keys = input.keys ?? ({} as PushSubscriptionRecord['keys']);
  const p256dh = decodeKey(keys.p256dh, 'p256dh', 65);
  const auth = decodeKey(keys.auth, 'auth', 16);
  let createdAt: string | undefined;
  if (input.createdAt !== undefined) {
    const at = new Date(input.createdAt);
    if (typeof input.createdAt !== 'string' || Number.isNaN(at.getTime())) {
      throw new InvalidSubscriptionError('createdAt must be an ISO 8601 date');
    }
    createdAt = at.toISOString();
  }
  const userAgent =
    typeof input.userAgent === 'string' && input.userAgent
      ? input.userAgent.slice(0, MAX_USER_AGENT_LENGTH)
      : undefined;
  return {
    endpoint,
    keys: { p256dh, auth },
    ...(createdAt ? { createdAt } : {}),
    ...(userAgent ? { userAgent } : {}),
  };
}

/**
 * Stores a subscription with now (Redis clock) as its registration time and
 * drops the devices registered longest ago beyond the cap; returns the stored
 * JSON. Read once, when this module loads; run by SHA.
 */
const REGISTER = luaScript<string>(new URL('../lua/register-device.lua', import.meta.url), {
  keys: 1,
});

interface StoredDevice {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  createdAt?: string;
  userAgent?: string;
  registeredAt: number;
}

function toDevice(json: string): PushDevice | undefined {
  try {
    const stored = JSON.parse(json) as StoredDevice;
    if (typeof stored?.endpoint !== 'string' || !stored.keys) return undefined;
    const registeredAt = new Date(stored.registeredAt).toISOString();
    return {
      endpoint: stored.endpoint,
      keys: { p256dh: stored.keys.p256dh, auth: stored.keys.auth },
      createdAt: stored.createdAt ?? registeredAt,
      registeredAt,
      ...(stored.userAgent ? { userAgent: stored.userAgent } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Creates the device registry on `redis`. One hash per user,
 * `<prefix>push:devices:{<userId>}` (the hash tag keeps a user's devices in
 * one Redis Cluster slot), field = endpoint, value = the subscription as JSON
 * with its registration time.
 */
export function createPushDevices(options: PushDevicesOptions): PushDevices {
  const { redis, prefix } = options;
  const maxDevices = options.maxDevices ?? MAX_DEVICES_DEFAULT;
  if (!Number.isInteger(maxDevices) || maxDevices < 1) {
    throw new RangeError('push devices: maxDevices must be a positive integer');
  }
  const scripts = defineScripts(redis, { register: REGISTER });
  const key = (userId: string) => {
    if (typeof userId !== 'string' || !userId) {
      throw new TypeError('push devices: userId must be a non-empty string');
    }
    return `${prefix}push:devices:{${userId}}`;
  };
  const remove = async (userId: string, endpoint: string) =>
    (await redis.hdel(key(userId), endpoint)) > 0;

  return {
    async register(userId, subscription) {
      const checked = parseSubscription(subscription, options);
      const stored = await scripts.register(
        [key(userId)],
        [checked.endpoint, JSON.stringify(checked), maxDevices, new Date().toISOString()],
      );
      const device = toDevice(stored);
      if (!device) throw new Error('push devices: the stored device could not be read back');
      return device;
    },
    unregister: remove,
    async list(userId) {
      const all = await redis.hgetall(key(userId));
      return Object.values(all)
        .map(toDevice)
        .filter((d): d is PushDevice => d !== undefined)
        .sort((a, b) =>
          a.registeredAt === b.registeredAt
            ? a.endpoint.localeCompare(b.endpoint)
            : a.registeredAt < b.registeredAt
              ? 1
              : -1,
        );
    },
    remove,
  };
}
