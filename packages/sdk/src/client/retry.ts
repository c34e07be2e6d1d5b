import type { OperationTypeNode } from 'graphql';
import { ArcadiaError, ArcadiaNetworkError } from './errors.js';

/** Retries of safe operations (see {@link retryDecision}). */
export interface RetryOptions {
  /** Tries after the first one. Default 3. */
  attempts?: number;
  /** The back-off's first ceiling, doubled after every try. Default 200 ms. */
  baseDelayMs?: number;
  /** The longest wait between tries; a RATE_LIMITED wait longer than this is not waited out. Default 5000 ms. */
  maxDelayMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type RetryPolicy = Required<RetryOptions>;

/** The defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };

/** `retry` of the client's options as a policy; `false` retries nothing. */
export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  if (options === false) return { ...DEFAULT_RETRY, attempts: 0 };
  return { ...DEFAULT_RETRY, ...options };
}

/**
 * Mutations that are safe to send again, by operation name: the variable
 * that carries their idempotency key (a retried `sendMessage` with the same
 * `clientMessageId` returns the message it already sent). Kept here, in one
 * place, next to the policy that uses it.
 */
export const IDEMPOTENCY_KEYS: Readonly<Record<string, string>> = {
  SendMessage: 'clientMessageId',
};

/**
 * Whether an operation may be sent again after a failure that may have
 * reached the server: queries always; mutations when the call says so
 * (`idempotent: true`) or when their idempotency key (see
 * {@link IDEMPOTENCY_KEYS}) is among the variables.
 */
export function isRetrySafe(operation: {
  kind: OperationTypeNode | 'query' | 'mutation' | 'subscription';
  name: string | undefined;
  variables: Readonly<Record<string, unknown>> | undefined;
  idempotent?: boolean;
}): boolean {
  if (operation.idempotent !== undefined) return operation.idempotent;
  if (operation.kind === 'query') return true;
  if (operation.kind !== 'mutation' || !operation.name) return false;
  const key = IDEMPOTENCY_KEYS[operation.name];
  const value = key === undefined ? undefined : operation.variables?.[key];
  return value !== undefined && value !== null && value !== '';
}

/**
 * Full-jitter exponential back-off: a uniform wait in
 * [0, min(maxDelay, baseDelay · 2^retry)], so clients that failed together
 * do not come back together. `retry` counts from 0.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/** HTTP statuses that say "try again": the router or a proxy in front of it is briefly unwell. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 && status <= 599;
}

/**
 * What to do after a failed try of a safe operation: wait `delayMs` and try
 * again, or give up. Retried: network errors, HTTP 5xx, and RATE_LIMITED
 * when its `retryAfterSeconds` fits within `maxDelayMs` (waited exactly).
 * Never retried: any other GraphQL error (it would only fail again), and
 * anything once `retry` (0-based) reached `attempts`.
 */
export function retryDecision(
  error: unknown,
  retry: number,
  policy: RetryPolicy,
  random = Math.random,
): { retry: true; delayMs: number } | { retry: false } {
  if (retry >= policy.attempts) return { retry: false };
  if (error instanceof ArcadiaNetworkError) {
    if (error.status === undefined || isRetryableStatus(error.status)) {
      return { retry: true, delayMs: backoffDelay(retry, policy, random) };
    }
    return { retry: false };
  }
  if (error instanceof ArcadiaError) {
    const first = error.first;
    if (first.code === 'RATE_LIMITED') {
      const delayMs = first.retryAfterSeconds * 1000;
      return delayMs <= policy.maxDelayMs ? { retry: true, delayMs } : { retry: false };
    }
    // A GraphQL body on a 5xx (the router's INTERNAL_SERVER_ERROR for a
    // request that failed as a whole) is still a 5xx.
    if (error.status !== undefined && isRetryableStatus(error.status)) {
      return { retry: true, delayMs: backoffDelay(retry, policy, random) };
    }
  }
  return { retry: false };
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
