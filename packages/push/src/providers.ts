/**
 * How a notification reaches a device: a provider sends one notification to
 * one subscription. The push worker picks one at start-up (`PUSH_PROVIDER`):
 * the log provider by default, Web Push with VAPID keys in production.
 */
import { createHash } from 'node:crypto';
import webpush from 'web-push';
import type { Logger } from '@arcadia/observability';
import type { PushSubscriptionRecord } from './devices.js';

/** What a device is shown. */
export interface PushNotification {
  /** Whose device it is (for logs; not sent to the device). */
  readonly userId: string;
  readonly title: string;
  readonly body: string;
  /** Where a tap on the notification leads. */
  readonly url?: string;
  readonly data?: Readonly<Record<string, string>>;
  /** A number to show with it (unread messages). */
  readonly count?: number;
  /**
   * The collapse key: a device shows one notification per tag, the newest
   * replacing the one before.
   */
  readonly tag: string;
}

/** How a send ended when it did not throw. */
export type PushResult =
  /** The push service accepted the notification. */
  | 'sent'
  /** The push service no longer knows the subscription (404, 410): remove the device. */
  | 'gone';

/**
 * Sends notifications to devices. `send` resolves to what happened to the
 * subscription; it throws {@link PushRejectedError} when this notification
 * can never be delivered to it (retrying would not help), and any other error
 * when a later attempt may succeed (the push service is unavailable or
 * rate-limits: 429, 5xx, a network error).
 */
export interface PushProvider {
  readonly name: string;
  send(subscription: PushSubscriptionRecord, notification: PushNotification): Promise<PushResult>;
}

/** The push service refused this notification for good (400, 401, 403, 413, …). */
export class PushRejectedError extends Error {
  constructor(
    message: string,
    /** The push service's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PushRejectedError';
  }
}

/** The push service could not take the notification now (429, 5xx, network); try again later. */
export class PushUnavailableError extends Error {
  constructor(
    message: string,
    /** The push service's HTTP status, when it answered. */
    readonly status?: number,
    /** Seconds the push service asked to wait (`Retry-After`), when it said. */
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PushUnavailableError';
  }
}

/**
 * A provider that only logs: one line per device with the user, title and
 * body. The default, for development and for deployments without VAPID keys.
 */
export function createLogProvider(logger: Logger): PushProvider {
  return {
    name: 'log',
    send(subscription, notification) {
      logger.info(
        {
          userId: notification.userId,
          title: notification.title,
          body: notification.body,
          tag: notification.tag,
          count: notification.count,
          // The push service, not the endpoint: its path identifies the subscription.
          pushService: URL.canParse(subscription.endpoint)
            ? new URL(subscription.endpoint).origin
            : undefined,
        },
        'push notification',
      );
      return Promise.resolve('sent');
    },
  };
}

/** What the device's service worker receives, as JSON (encrypted on the way). */
export interface WebPushPayload {
  title: string;
  body: string;
  url?: string;
  tag: string;
  count?: number;
  data?: Record<string, string>;
}

/**
 * The largest payload a push service must accept: 4096 bytes of encrypted
 * record (RFC 8030 §7.2) less the aes128gcm header with the sender's key
 * (86), the AEAD tag (16) and the padding delimiter (1).
 */
export const MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1;

/**
 * The payload of `notification` as JSON of at most {@link MAX_PAYLOAD_BYTES}:
 * a body too long for it is shortened (ending in "…"). Throws
 * {@link PushRejectedError} when even an empty body does not fit.
 */
export function encodePayload(notification: PushNotification): string {
  const payload = (body: string): string =>
    JSON.stringify({
      title: notification.title,
      body,
      url: notification.url,
      tag: notification.tag,
      count: notification.count,
      data: notification.data,
    } satisfies WebPushPayload);
  const size = (s: string) => Buffer.byteLength(s, 'utf8');
  const full = payload(notification.body);
  if (size(full) <= MAX_PAYLOAD_BYTES) return full;
  const chars = [...notification.body];
  // Binary search for the longest prefix that fits, with the ellipsis.
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (size(payload(`${chars.slice(0, mid).join('')}…`)) <= MAX_PAYLOAD_BYTES) low = mid;
    else high = mid - 1;
  }
  const shortened = payload(`${chars.slice(0, low).join('')}…`);
  if (size(shortened) > MAX_PAYLOAD_BYTES) {
    throw new PushRejectedError('the notification does not fit in a push message');
  }
  return shortened;
}

/**
 * The Web Push `Topic` for a tag: a push service keeps only the newest
 * undelivered message per topic and subscription (RFC 8030 §5.4), so a
 * device that was offline gets the latest notification, not a backlog.
 * Topics are at most 32 base64url characters, hence a digest.
 */
export function topicFor(tag: string): string {
  return createHash('sha256').update(tag).digest('base64url').slice(0, 32);
}

/** What {@link createWebPushProvider} needs. */
export interface WebPushOptions {
  /** The application server's P-256 public key, base64url (what clients subscribe with). */
  vapidPublicKey: string;
  /** Its private key, base64url. */
  vapidPrivateKey: string;
  /** A contact for push services: `mailto:` or an `https:` URL. */
  subject: string;
  /** How long a push service keeps a notification for an offline device; default 1 day. */
  ttlSeconds?: number;
  /** Time allowed for one request to a push service; default 10 s. */
  timeoutMs?: number;
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * The Web Push provider (RFC 8030, 8291, 8292): the payload
 * `{title, body, url, tag, count, data}` as JSON, encrypted for the
 * subscription (aes128gcm) and sent with a VAPID `Authorization` header,
 * `Urgency: high` (a message from a person), the TTL and a `Topic` derived
 * from the tag. The `web-push` package builds the request; it is sent with
 * fetch, which follows no redirect. Throws at creation when the VAPID
 * details are invalid, so a bad configuration stops the worker at start-up.
 */
export function createWebPushProvider(options: WebPushOptions): PushProvider {
  const vapidDetails = {
    subject: options.subject,
    publicKey: options.vapidPublicKey,
    privateKey: options.vapidPrivateKey,
  };
  // Validates subject and keys now rather than at the first notification.
  webpush.getVapidHeaders(
    'https://push.example.com',
    vapidDetails.subject,
    vapidDetails.publicKey,
    vapidDetails.privateKey,
    'aes128gcm',
  );
  const ttl = options.ttlSeconds ?? 24 * 3600;
  const timeoutMs = options.timeoutMs ?? 10_000;

  return {
    name: 'webpush',
    async send(subscription, notification) {
      const request = webpush.generateRequestDetails(
        { endpoint: subscription.endpoint, keys: subscription.keys },
        encodePayload(notification),
        {
          vapidDetails,
          TTL: ttl,
          urgency: 'high',
          topic: topicFor(notification.tag),
          contentEncoding: 'aes128gcm',
        },
      );
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        // fetch sets the length of the body itself.
        if (name.toLowerCase() !== 'content-length') headers.set(name, String(value));
      }
      let response: Response;
      try {
        response = await fetch(request.endpoint, {
          method: request.method,
          headers,
          // A plain Uint8Array is a BodyInit under every workspace's type settings; a Buffer is not.
          body: request.body ? new Uint8Array(request.body) : null,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new PushUnavailableError(
          'the push service could not be reached',
          undefined,
          undefined,
          {
            cause: error,
          },
        );
      }
      const text = await response.text().catch(() => '');
      const { status } = response;
      if (status >= 200 && status < 300) return 'sent';
      if (status === 404 || status === 410) return 'gone';
      if (status === 429 || status >= 500) {
        throw new PushUnavailableError(
          `the push service answered ${status}`,
          status,
          retryAfter(response.headers.get('retry-after')),
        );
      }
      throw new PushRejectedError(
        `the push service refused the notification (${status}${text ? `: ${text.slice(0, 200)}` : ''})`,
        status,
      );
    },
  };
}

/** A new VAPID key pair, base64url (what `npx web-push generate-vapid-keys` prints). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}
