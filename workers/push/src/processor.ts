/**
 * The push queue's processor: one job is one notification for one user,
 * sent to each of their devices. A function of the job's data and its
 * dependencies, so tests run it without BullMQ; `worker.ts` wires it to the
 * queue.
 *
 * Every device is tried, whatever happens to the others. A device the push
 * service no longer knows is removed; one that refuses this notification for
 * good is skipped; when a push service is unavailable the job fails after
 * all devices were tried, and BullMQ retries it with backoff. A retry sends
 * to every device again: the notification carries its collapse key as tag,
 * so a device that already had it replaces it rather than showing two.
 */
import type { Logger } from '@arcadia/observability';
import {
  PushRejectedError,
  type PushDevices,
  type PushNotification,
  type PushProvider,
} from '@arcadia/push';
import type { JobRun, PushJob } from '@arcadia/queues';

/** What the processor works with. */
export interface ProcessorDeps {
  readonly devices: Pick<PushDevices, 'list' | 'remove'>;
  readonly provider: PushProvider;
  readonly logger: Logger;
}

/** How a run ended (when it did not throw): what happened per device. */
export interface PushOutcome {
  /** Devices the user had. */
  readonly devices: number;
  /** Accepted by their push service. */
  readonly sent: number;
  /** Unknown to their push service any more, and removed. */
  readonly gone: number;
  /** Refused this notification for good (logged). */
  readonly rejected: number;
}

/** The job's run: its data, and which attempt this is of how many. */
export type PushJobRun = Pick<JobRun<PushJob>, 'data' | 'attempt' | 'maxAttempts'>;

/** Raised when some devices could not be reached now; BullMQ retries the job. */
export class PushDeliveryError extends AggregateError {
  constructor(errors: unknown[], devices: number) {
    super(errors, `${errors.length} of ${devices} devices could not be reached`);
    this.name = 'PushDeliveryError';
  }
}

/**
 * Sends one notification to every device of its user. A user without
 * devices is done at once. Throws {@link PushDeliveryError} to have BullMQ
 * retry when a push service was unavailable for some device.
 */
export async function processPush(job: PushJobRun, deps: ProcessorDeps): Promise<PushOutcome> {
  const { userId, collapseKey } = job.data;
  const logger = deps.logger.child({ userId, collapseKey, attempt: job.attempt });
  const devices = await deps.devices.list(userId);
  if (!devices.length) {
    // Info, not debug: locally (log provider, no browser registered) this line
    // is how a developer sees the notification happen. No body: it is private.
    logger.info({ title: job.data.title, count: job.data.count }, 'no push devices; nothing sent');
    return { devices: 0, sent: 0, gone: 0, rejected: 0 };
  }
  const notification: PushNotification = {
    userId,
    title: job.data.title,
    body: job.data.body,
    tag: collapseKey,
    ...(job.data.url !== undefined ? { url: job.data.url } : {}),
    ...(job.data.data !== undefined ? { data: job.data.data } : {}),
    ...(job.data.count !== undefined ? { count: job.data.count } : {}),
  };
  const results = await Promise.allSettled(
    devices.map((device) => deps.provider.send(device, notification)),
  );
  let sent = 0;
  let gone = 0;
  let rejected = 0;
  const failures: unknown[] = [];
  await Promise.all(
    results.map(async (result, i) => {
      const device = devices[i]!;
      const pushService = URL.canParse(device.endpoint) ? new URL(device.endpoint).origin : '';
      if (result.status === 'fulfilled') {
        if (result.value === 'sent') {
          sent++;
          return;
        }
        gone++;
        logger.info({ pushService }, 'push subscription gone; device removed');
        await deps.devices.remove(userId, device.endpoint);
      } else if (result.reason instanceof PushRejectedError) {
        rejected++;
        logger.warn({ pushService, err: result.reason }, 'push notification refused');
      } else {
        failures.push(result.reason);
        logger.warn({ pushService, err: result.reason }, 'push service unavailable');
      }
    }),
  );
  const outcome = { devices: devices.length, sent, gone, rejected };
  if (failures.length) throw new PushDeliveryError(failures, devices.length);
  logger.debug(outcome, 'push notification sent');
  return outcome;
}
