/**
 * The producer side of the `push` queue: what a subgraph calls for each
 * recipient who should be notified. Notifications of one user and collapse
 * key that come close together become one.
 */
import { createHash } from 'node:crypto';
import {
  createQueue,
  jobIdFor,
  QUEUES,
  type PushJob,
  type QueueConnection,
  type RetryPolicy,
  type TypedQueue,
} from '@arcadia/queues';

/** How long notifications are collected into one unless configured otherwise. */
export const COLLAPSE_WINDOW_MS_DEFAULT = 10_000;

/** What {@link createPushNotifier} needs. */
export interface PushNotifierOptions extends QueueConnection {
  /**
   * How long after the first notification of a (user, collapse key) the
   * notification is sent; whatever comes meanwhile replaces its content.
   * Default {@link COLLAPSE_WINDOW_MS_DEFAULT}.
   */
  collapseWindowMs?: number;
  /** Overrides the push queue's retry policy (tests shorten the backoff). */
  retry?: Partial<RetryPolicy>;
}

/** Adds push notifications to the `push` queue. */
export interface PushNotifier {
  /**
   * Asks for `job` to be shown on the user's devices. The first notification
   * of a user and collapse key opens a window of `collapseWindowMs`; what
   * arrives within it replaces the pending notification's title, body and
   * count (without a second job), and one notification with the latest
   * content goes out when the window ends. One arriving while that
   * notification is being sent is kept for another one right after. The
   * same job given twice is one notification. Resolves once the job is in
   * Redis; throws a TypeError for a malformed job.
   */
  notify(job: PushJob): Promise<void>;
  /** The push queue, for inspection in workers and tests. */
  readonly queue: TypedQueue<'push'>;
  close(): Promise<void>;
}

/**
 * The BullMQ deduplication id of a (user, collapse key): the pending job of
 * a window holds it.
 */
export function collapseIdFor(job: Pick<PushJob, 'userId' | 'collapseKey'>): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([job.userId, job.collapseKey]))
    .digest('base64url');
  return `push-${digest}`;
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Checks a job's shape and returns it with only its known fields. */
function checkJob(job: PushJob): PushJob {
  const problems: string[] = [];
  if (!nonEmpty(job?.userId)) problems.push('userId must be a non-empty string');
  if (!nonEmpty(job?.collapseKey)) problems.push('collapseKey must be a non-empty string');
  if (typeof job?.title !== 'string') problems.push('title must be a string');
  if (typeof job?.body !== 'string') problems.push('body must be a string');
  if (!nonEmpty(job?.sentAt) || Number.isNaN(Date.parse(job.sentAt))) {
    problems.push('sentAt must be an ISO 8601 date');
  }
  if (job?.url !== undefined && typeof job.url !== 'string') problems.push('url must be a string');
  if (job?.count !== undefined && !(Number.isInteger(job.count) && job.count >= 0)) {
    problems.push('count must be a non-negative integer');
  }
  if (
    job?.data !== undefined &&
    (typeof job.data !== 'object' ||
      job.data === null ||
      Object.values(job.data).some((v) => typeof v !== 'string'))
  ) {
    problems.push('data must map names to strings');
  }
  if (problems.length) throw new TypeError(`invalid push job: ${problems.join('; ')}`);
  return {
    userId: job.userId,
    collapseKey: job.collapseKey,
    title: job.title,
    body: job.body,
    ...(job.url !== undefined ? { url: job.url } : {}),
    ...(job.data !== undefined ? { data: { ...job.data } } : {}),
    ...(job.count !== undefined ? { count: job.count } : {}),
    sentAt: job.sentAt,
  };
}

/** Adds tried before giving up: each further one follows a state change of the pending job. */
const MAX_ROUNDS = 5;

/**
 * Opens the push queue for adding notifications.
 *
 * Collapsing uses BullMQ's deduplication: the first notification of a
 * (user, collapse key) is a job delayed by the window that holds the key
 * `collapseIdFor(job)`; a later one replaces that job while it is still
 * delayed (same deadline, new content) and, when it is already running, is
 * stored by BullMQ and added as soon as the run finishes (`keepLastIfActive`),
 * delayed by another window. The one gap BullMQ leaves — a job whose window
 * ended but that no worker has picked up yet — is closed here: the key is
 * taken from that job (it goes out with what it has) and the newer
 * notification opens a new window.
 */
export function createPushNotifier(options: PushNotifierOptions): PushNotifier {
  const windowMs = options.collapseWindowMs ?? COLLAPSE_WINDOW_MS_DEFAULT;
  if (!Number.isFinite(windowMs) || windowMs < 0) {
    throw new RangeError('push notifier: collapseWindowMs must be a non-negative number');
  }
  const typed = createQueue(QUEUES.push, {
    connection: options.connection,
    prefix: options.prefix,
    logger: options.logger,
    ...(options.retry ? { retry: options.retry } : {}),
  });
  const queue = typed.queue;

  /** Time left in the window of the job that holds `collapseId`; a whole window when none is open. */
  async function delayFor(collapseId: string): Promise<number> {
    const holderId = await queue.getDeduplicationJobId(collapseId);
    if (!holderId) return windowMs;
    const holder = await queue.getJob(holderId);
    if (!holder) return windowMs;
    const left = Number(holder.timestamp) + Number(holder.delay) - Date.now();
    // A window that is over belongs to a job about to run or running: what
    // comes now waits for a window of its own after it.
    return left > 0 ? Math.min(left, windowMs) : windowMs;
  }

  async function notify(input: PushJob): Promise<void> {
    const job = checkJob(input);
    const collapseId = collapseIdFor(job);
    const jobId = jobIdFor(QUEUES.push, job);
    let runningHolder: string | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const added = await queue.add(QUEUES.push, job, {
        jobId,
        delay: await delayFor(collapseId),
        deduplication: { id: collapseId, replace: true, keepLastIfActive: true },
      });
      const holder = added.id;
      // Ours: the window's first, or the pending one replaced (or this very job already there).
      if (!holder || holder === jobId) return;
      // The holder was running before this add: BullMQ keeps ours for right after it.
      if (holder === runningHolder) return;
      const state = await queue.getJobState(holder);
      if (state === 'active') {
        // Running now, but maybe picked up just after our add: add once more to be sure.
        runningHolder = holder;
      } else if (state === 'waiting' || state === 'prioritized') {
        // Its window is over and it is about to run without this notification: take
        // the key from it (only if it still holds it) so that ours opens a new window.
        const waiting = await queue.getJob(holder);
        await waiting?.removeDeduplicationKey();
      }
      // Otherwise it finished or went back to delayed meanwhile: adding again decides.
    }
    throw new Error(`push notifier: could not schedule the notification for ${job.collapseKey}`);
  }

  return {
    notify,
    queue: typed,
    close: () => typed.close(),
  };
}
