/**
 * Push notifications for every domain: the device registry (Web Push
 * subscriptions in Redis), the producer that adds collapsed notifications to
 * the `push` queue, and the providers the push worker sends them with.
 *
 * A producer (the chat subgraph for offline recipients) calls
 * {@link createPushNotifier}`().notify(job)`; `workers/push` lists the
 * user's devices ({@link createPushDevices}) and sends to each through a
 * {@link PushProvider}.
 */
export {
  createPushDevices,
  InvalidSubscriptionError,
  MAX_DEVICES_DEFAULT,
  parseSubscription,
  WELL_KNOWN_PUSH_SERVICES,
  type PushDevice,
  type PushDevices,
  type PushDevicesOptions,
  type PushSubscriptionRecord,
} from './devices.js';
export { pushEnv, PUSH_PREFIX_DEFAULT } from './env.js';
export {
  COLLAPSE_WINDOW_MS_DEFAULT,
  collapseIdFor,
  createPushNotifier,
  type PushNotifier,
  type PushNotifierOptions,
} from './notifier.js';
export {
  createLogProvider,
  createWebPushProvider,
  encodePayload,
  generateVapidKeys,
  MAX_PAYLOAD_BYTES,
  PushRejectedError,
  PushUnavailableError,
  topicFor,
  type PushNotification,
  type PushProvider,
  type PushResult,
  type WebPushOptions,
  type WebPushPayload,
} from './providers.js';
export type { PushJob } from '@arcadia/queues';
