/**
 * Wires the processor to BullMQ: what `worker.ts` starts, and what tests
 * start in process with their own prefix.
 */
import type { Logger } from '@arcadia/observability';
import { createLogProvider, createWebPushProvider, type PushProvider } from '@arcadia/push';
import { QUEUES, runWorker } from '@arcadia/queues';
import { processPush, type ProcessorDeps } from './processor.js';
import type { PushWorkerConfig } from './env.js';

/** What a push worker instance is made of. */
export interface PushWorkerDeps extends ProcessorDeps {
  readonly config: Pick<PushWorkerConfig, 'REDIS_URL' | 'QUEUE_PREFIX' | 'PUSH_CONCURRENCY'>;
}

/** A running push worker. */
export interface PushWorker {
  /**
   * Stops: no new jobs, running ones finish first (graceful); with `force`,
   * running jobs are abandoned to be taken over by another worker.
   */
  close(force?: boolean): Promise<void>;
}

/** The provider `PUSH_PROVIDER` names, configured from the rest of the configuration. */
export function providerFor(
  config: Pick<
    PushWorkerConfig,
    | 'PUSH_PROVIDER'
    | 'VAPID_PUBLIC_KEY'
    | 'VAPID_PRIVATE_KEY'
    | 'VAPID_SUBJECT'
    | 'PUSH_TTL_SECONDS'
    | 'PUSH_TIMEOUT_MS'
  >,
  logger: Logger,
): PushProvider {
  if (config.PUSH_PROVIDER === 'log') return createLogProvider(logger);
  const { VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT } = config;
  // parsePushWorkerEnv has made sure of these.
  if (!VAPID_PUBLIC_KEY || !VAPID_PRIVATE_KEY || !VAPID_SUBJECT) {
    throw new Error(
      'PUSH_PROVIDER=webpush needs VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT',
    );
  }
  return createWebPushProvider({
    vapidPublicKey: VAPID_PUBLIC_KEY,
    vapidPrivateKey: VAPID_PRIVATE_KEY,
    subject: VAPID_SUBJECT,
    ttlSeconds: config.PUSH_TTL_SECONDS,
    timeoutMs: config.PUSH_TIMEOUT_MS,
  });
}

/** Starts sending the push queue's notifications. */
export function startPushWorker(deps: PushWorkerDeps): PushWorker {
  const { config, logger } = deps;
  const worker = runWorker(QUEUES.push, (job) => processPush(job, deps), {
    connection: { url: config.REDIS_URL },
    prefix: config.QUEUE_PREFIX,
    concurrency: config.PUSH_CONCURRENCY,
    onFailed: (job, error) => logger.warn({ job, err: error.message }, 'push job run failed'),
    onError: (error) => logger.warn({ err: error }, 'push worker connection problem'),
  });
  logger.info(
    {
      concurrency: config.PUSH_CONCURRENCY,
      prefix: config.QUEUE_PREFIX,
      provider: deps.provider.name,
    },
    'push worker started',
  );
  return {
    close: (force = false) => worker.close(force),
  };
}
