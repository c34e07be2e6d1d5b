/**
 * Every BullMQ queue of Arcadia in one place: its name, the payload of its
 * jobs, how a job's id is derived from its payload and its retry policy, so
 * producers (subgraphs) and consumers (workers) cannot drift apart.
 */
import { createHash } from 'node:crypto';
import { Queue, Worker, type Job, type JobsOptions, type Processor } from 'bullmq';
import { createLogger, type Logger } from '@arcadia/observability';
import { createRedisConnection, logRedisErrors } from '@arcadia/redis';

export { UnrecoverableError } from 'bullmq';
export type { Job } from 'bullmq';

/** Queue names. */
export const QUEUES = {
  /** Image processing: resize an uploaded original into its WebP variants. */
  media: 'media',
  /**
   * Push notifications: one notification to every device of one user.
   * Producers add through `@arcadia/push`'s notifier, which collapses close
   * messages into one job; `createQueue('push')` is for inspection.
   */
  push: 'push',
} as const;

/** The name of one of Arcadia's queues. */
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Why an image is (re)processed. */
export type MediaJobReason = 'upload' | 'reprocess' | 'sweep';

/** A job of the `media` queue: process version `version` of image `imageId`. */
export interface MediaJob {
  readonly imageId: string;
  readonly reason: MediaJobReason;
  /**
   * The processing version the job is for. Each reprocess request bumps the
   * image's version, so a job for an older version is recognised as stale.
   */
  readonly version: number;
}

/**
 * A job of the `push` queue: one notification for one user, to be shown on
 * each of their devices. Generic: chat is the first domain to push, others
 * follow with their own collapse keys.
 */
export interface PushJob {
  /** The recipient. */
  readonly userId: string;
  /**
   * What the notification is about, e.g. `chat:<conversationId>`. Messages
   * of one user and collapse key that arrive close together become one
   * notification, and a device shows one notification per collapse key,
   * replacing the previous one.
   */
  readonly collapseKey: string;
  /** The notification's title: the sender's display name, or the group's title. */
  readonly title: string;
  /** The notification's text: a preview, already truncated by the producer. */
  readonly body: string;
  /** Where the client goes when the notification is tapped (a path or URL). */
  readonly url?: string;
  /** Extra strings for the client app (ids to open the right screen). */
  readonly data?: Readonly<Record<string, string>>;
  /** A number to show with it, e.g. the unread messages of that conversation when enqueued. */
  readonly count?: number;
  /** When the event behind it happened (ISO 8601). */
  readonly sentAt: string;
}

/** The payload of each queue's jobs. */
export interface JobPayloads {
  media: MediaJob;
  push: PushJob;
}

/**
 * The id of the job for `data`. Enqueueing a payload whose id is already in
 * the queue adds nothing (BullMQ keeps one job per id), which makes producers
 * idempotent: completing an upload twice, or a sweeper and a client racing,
 * still runs the work once. The id depends on what the work is for, not on
 * why it was asked for, so the reason does not take part.
 */
export function jobIdFor<N extends QueueName>(name: N, data: JobPayloads[N]): string {
  switch (name) {
    case QUEUES.media: {
      // BullMQ ids may not contain ':' and may not look like integers.
      const media = data as MediaJob;
      return `image-${media.imageId}-v${media.version}`;
    }
    case QUEUES.push: {
      // One id per distinct notification: the same notification enqueued twice
      // (a producer's retry) is one job; any difference makes another.
      const push = data as PushJob;
      const digest = createHash('sha256')
        .update(
          JSON.stringify([
            push.userId,
            push.collapseKey,
            push.sentAt,
            push.title,
            push.body,
            push.url ?? null,
            push.count ?? null,
            push.data ? Object.entries(push.data).sort(([a], [b]) => (a < b ? -1 : 1)) : null,
          ]),
        )
        .digest('base64url');
      return `push-${digest}`;
    }
    default:
      throw new Error(`unknown queue ${String(name)}`);
  }
}

/** Retry policy of a queue's jobs; producers may override attempts and backoff. */
export interface RetryPolicy {
  /** Runs of a job before it fails for good (the first run included). */
  attempts: number;
  /** First retry delay; each further retry waits twice as long. */
  backoffMs: number;
}

/** Default retry policy per queue. */
export const RETRY_DEFAULTS: Record<QueueName, RetryPolicy> = {
  media: { attempts: 5, backoffMs: 1000 },
  push: { attempts: 5, backoffMs: 2000 },
};

/** How to reach Redis and where in it the queues live. */
export interface QueueConnection {
  /** `redis://…` URL. */
  connection: { url: string };
  /**
   * Key prefix of every BullMQ key (`QUEUE_PREFIX`). Producers and workers
   * must agree; tests use a unique prefix per file.
   */
  prefix: string;
  /** Where connection problems are logged (once per outage). */
  logger?: Logger;
}

function jobOptions(name: QueueName, retry: Partial<RetryPolicy> = {}): JobsOptions {
  const policy = { ...RETRY_DEFAULTS[name], ...retry };
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs },
    // A finished job has nothing more to tell; its id becomes free again.
    removeOnComplete: true,
    // Failed jobs stay a week for inspection (and keep their id taken meanwhile).
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}

/** A queue producers add typed jobs to. */
export interface TypedQueue<N extends QueueName> {
  readonly name: N;
  /** The underlying BullMQ queue, for inspection (`getJob`, counts) in workers and tests. */
  readonly queue: Queue<JobPayloads[N]>;
  /**
   * Adds the job for `data` under {@link jobIdFor}; nothing is added while a
   * job with that id exists. Resolves to the job id.
   */
  enqueue(data: JobPayloads[N]): Promise<string>;
  /**
   * Adds the job again even when a finished (failed or completed) job holds
   * its id: for sweepers re-driving work that did not finish. A waiting,
   * delayed or active job is left alone. Resolves to true when a job was added.
   */
  reenqueue(data: JobPayloads[N]): Promise<boolean>;
  /** True while the job for `data` is waiting, delayed (a retry) or running. */
  isPending(data: JobPayloads[N]): Promise<boolean>;
  close(): Promise<void>;
}

/** Opens the queue `name` for adding jobs. */
export function createQueue<N extends QueueName>(
  name: N,
  options: QueueConnection & { retry?: Partial<RetryPolicy> },
): TypedQueue<N> {
  // A producer answers a request: while Redis is away, adding fails after one
  // failed reconnection attempt instead of holding the request until Redis is
  // back (BullMQ's advice for queues; only workers need to wait). The queue
  // borrows the connection, so closing it is ours, after the queue's.
  const connection = createRedisConnection({
    url: options.connection.url,
    name: `queue:${name}`,
    use: 'commands',
    logger: options.logger,
  });
  const queue = new Queue<JobPayloads[N]>(name, {
    connection,
    prefix: options.prefix,
    defaultJobOptions: jobOptions(name, options.retry),
  });
  // BullMQ re-emits the connection's errors, which the connection logs itself;
  // without a listener its 'error' event would throw.
  queue.on('error', (error) => options.logger?.debug({ err: error, queue: name }, 'queue error'));
  let closing: Promise<void> | undefined;
  const add = async (data: JobPayloads[N]) => {
    const jobId = jobIdFor(name, data);
    // BullMQ's name/data generics do not narrow through our mapped payload type.
    await (queue as Queue).add(name, data, { jobId });
    return jobId;
  };
  const finished = (state: string) =>
    state === 'completed' || state === 'failed' || state === 'unknown';
  return {
    name,
    queue,
    enqueue: add,
    async reenqueue(data) {
      const existing = await queue.getJob(jobIdFor(name, data));
      if (existing) {
        if (!finished(await existing.getState())) return false;
        await existing.remove();
      }
      await add(data);
      return true;
    },
    async isPending(data) {
      const existing = await queue.getJob(jobIdFor(name, data));
      return existing ? !finished(await existing.getState()) : false;
    },
    close() {
      closing ??= queue.close().finally(() => connection.close());
      return closing;
    },
  };
}

/** What a processor learns about the run it is in. */
export interface JobRun<T> {
  readonly id: string;
  readonly data: T;
  /** 1 for the first run, 2 for the first retry, … */
  readonly attempt: number;
  /** The last attempt; failing it fails the job for good. */
  readonly maxAttempts: number;
}

/** Tuning of a worker. */
export interface WorkerOptions extends QueueConnection {
  /** Jobs run at the same time by this worker instance. */
  concurrency: number;
  /**
   * How long a job's lock lives without renewal. A running worker renews it
   * every half of this; a worker that dies stops renewing, and after this
   * long (plus `stalledIntervalMs`) another worker takes the job over.
   */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs of dead workers. */
  stalledIntervalMs?: number;
  /** Times a job may be taken over from a dead worker before it fails. */
  maxStalledCount?: number;
  /** Called when a run fails (it may be retried); for logs. */
  onFailed?: (job: { id: string; attempt: number } | undefined, error: Error) => void;
  /** Called on connection problems; for logs. */
  onError?: (error: Error) => void;
}

/** A running worker. */
export interface RunningWorker {
  readonly worker: Worker;
  /**
   * Stops taking jobs and waits for the running ones to finish (graceful);
   * with `force`, returns at once and leaves running jobs to be taken over
   * by another worker once their lock expires.
   */
  close(force?: boolean): Promise<void>;
}

/** Runs `processor` for each job of `name` until closed. */
export function runWorker<N extends QueueName, R>(
  name: N,
  processor: (job: JobRun<JobPayloads[N]>) => Promise<R>,
  options: WorkerOptions,
): RunningWorker {
  const run: Processor<JobPayloads[N], R> = (job: Job<JobPayloads[N], R>) =>
    processor({
      id: job.id ?? '',
      data: job.data,
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
    });
  const lockDuration = options.lockDurationMs ?? 30_000;
  // BullMQ: a worker's connections must wait out an outage
  // (`maxRetriesPerRequest: null`), or its fetch loop fails instead of
  // resuming. The worker duplicates this one for its blocking fetch (and
  // closes that copy itself); this one it borrows, so closing it is ours.
  const connection = createRedisConnection({
    url: options.connection.url,
    name: `worker:${name}`,
    use: 'worker',
    logger: options.logger,
  });
  const worker = new Worker<JobPayloads[N], R>(name, run, {
    connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? lockDuration,
    maxStalledCount: options.maxStalledCount ?? 2,
  });
  worker.on('failed', (job, error) => {
    options.onFailed?.(job ? { id: job.id ?? '', attempt: job.attemptsMade } : undefined, error);
  });
  // The worker's errors include those of its blocking connection, which no
  // listener of ours is on: they are logged here, once per outage, unless the
  // caller takes them.
  if (options.onError) worker.on('error', options.onError);
  else {
    logRedisErrors(worker, {
      name: `worker:${name}`,
      logger: options.logger ?? createLogger(`worker:${name}`),
    });
  }
  let closing: Promise<void> | undefined;
  return {
    worker,
    close(force = false) {
      closing ??= worker.close(force).finally(() => connection.close());
      return closing;
    },
  };
}
