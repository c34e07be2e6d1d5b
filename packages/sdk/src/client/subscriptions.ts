import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { FormattedExecutionResult } from 'graphql';
import { CloseCode, createClient, type Client } from 'graphql-ws';
import { prepareOperation } from './apq.js';
import type { AuthStrategy } from './auth.js';
import { ArcadiaError, ArcadiaNetworkError, unauthenticated } from './errors.js';
import type { Emitter } from './events.js';
import { backoffDelay, sleep, type RetryPolicy } from './retry.js';
import type { ArcadiaClientEvents } from './session.js';

/** What {@link createSubscriptions} needs. */
export interface SubscriptionOptions {
  url: string;
  webSocketImpl?: unknown;
  auth: AuthStrategy;
  events: Emitter<ArcadiaClientEvents>;
  retry: RetryPolicy;
}

/** A live subscription: its events, and when its socket was last acknowledged. */
export interface LiveSubscription<TData> extends AsyncIterableIterator<TData> {
  /** Resolves once the subscription has been sent on an acknowledged socket. */
  readonly started: Promise<void>;
}

interface CloseEventLike {
  code: number;
  reason: string;
}

const isCloseEvent = (value: unknown): value is CloseEventLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { code?: unknown }).code === 'number' &&
  'reason' in value;

/**
 * Reconnection attempts of a dropped socket before subscriptions end with
 * ArcadiaNetworkError: with the back-off below, about a minute of trying.
 */
const SOCKET_RETRY_ATTEMPTS = 20;
const SOCKET_BACKOFF = { baseDelayMs: 500, maxDelayMs: 5000 };

/**
 * How long after the router completes a subscription its socket closing
 * (1001) still counts as the router shutting down, when the client
 * resubscribes (to another instance) rather than end the iteration.
 */
const SHUTDOWN_CLOSE_WINDOW_MS = 1500;

/** 4401 reasons the router closes a socket with when the session is over. */
const REVOKED = /revoked|session has ended/i;
const EXPIRED = /expired/i;

/**
 * Subscriptions over graphql-ws (its own client: protocol, keep-alive,
 * reconnection), on one lazy socket per client that carries the access
 * token in `connection_init` — read afresh on every (re)connection.
 *
 * What graphql-ws treats as fatal and the router means as "come back":
 * 4401 "Token expired" (refresh, reconnect, resubscribe) and a completion
 * followed by the socket closing as the router shuts down (resubscribe).
 * 4401 "Session revoked" ends the session and the iteration with
 * UNAUTHENTICATED (reason SESSION_REVOKED).
 */
export function createSubscriptions(options: SubscriptionOptions) {
  const { auth, events } = options;
  let client: Client | null = null;
  /** The token of the socket's current connection (what a 4401 refused). */
  let connectionToken: string | null = null;
  /** Acknowledged connections so far: a 4401 after a new one is a new expiry, not a loop. */
  let connections = 0;
  let connected = false;
  const closeWaiters = new Set<(event: CloseEventLike) => void>();
  const connectWaiters = new Set<() => void>();
  const active = new Set<{ end(): void }>();
  const socketRetry = { ...SOCKET_BACKOFF, attempts: SOCKET_RETRY_ATTEMPTS };

  const socket = (): Client => {
    client ??= createClient({
      url: options.url,
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      lazy: true,
      // Keeps the socket a moment after the last subscription ends: a
      // resubscription reuses it, and the router's 1001 arrives before ours.
      lazyCloseTimeout: 1000,
      connectionParams: async () => {
        const token = await auth.accessToken();
        connectionToken = token;
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      retryAttempts: options.retry.attempts === 0 ? 0 : SOCKET_RETRY_ATTEMPTS,
      retryWait: (retries) => sleep(backoffDelay(retries, socketRetry)),
      // Every connection problem is worth another try (graphql-ws retries
      // only close events by default; a refused TCP connection is an error
      // event), except the session ending (ArcadiaError from connectionParams).
      shouldRetry: (error) => !(error instanceof ArcadiaError),
      on: {
        connecting: (isRetry) =>
          events.emit('connection', { state: isRetry ? 'reconnecting' : 'connecting' }),
        connected: () => {
          connected = true;
          connections++;
          for (const waiter of [...connectWaiters]) waiter();
          events.emit('connection', { state: 'connected' });
        },
        closed: (event) => {
          connected = false;
          if (isCloseEvent(event)) for (const waiter of [...closeWaiters]) waiter(event);
          events.emit('connection', { state: 'closed' });
        },
      },
    });
    return client;
  };

  /** The next close of the socket within `ms`, or null. */
  const nextClose = (ms: number) =>
    new Promise<CloseEventLike | null>((resolve) => {
      const done = (event: CloseEventLike | null) => {
        clearTimeout(timer);
        closeWaiters.delete(done);
        resolve(event);
      };
      const timer = setTimeout(() => done(null), ms);
      closeWaiters.add(done);
    });

  function subscribe<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): LiveSubscription<TData> {
    const operation = prepareOperation(document);
    const payload = {
      query: operation.query,
      ...(operation.operationName ? { operationName: operation.operationName } : {}),
      ...(variables ? { variables: variables as Record<string, unknown> } : {}),
    };
    const queue: TData[] = [];
    let failure: unknown = undefined;
    let ended = false;
    let wake: (() => void) | null = null;
    let dispose: (() => void) | null = null;
    let replays = 0;
    let startedAt = 0;
    let markStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (markStarted = resolve));

    const notify = () => {
      wake?.();
      wake = null;
    };
    const handle = { end: () => finish() };
    const finish = (error?: unknown) => {
      if (ended) return;
      ended = true;
      failure = error;
      dispose?.();
      dispose = null;
      active.delete(handle);
      notify();
    };

    const onResult = (result: FormattedExecutionResult<TData>) => {
      const errors = result.errors ?? [];
      const data = result.data ?? null;
      // An event whose root field came back null because of an error ends
      // the iteration; an error deeper down (a deleted sender) leaves
      // partial data worth delivering.
      const rootsNull =
        data === null || Object.values(data as Record<string, unknown>).every((v) => v === null);
      if (errors.length > 0 && rootsNull) {
        finish(ArcadiaError.fromResponse(errors, { data }));
        return;
      }
      if (data !== null) {
        queue.push(data);
        notify();
      }
    };

    const onError = async (error: unknown) => {
      dispose = null;
      if (ended) return;
      if (isCloseEvent(error) && error.code === (CloseCode.Unauthorized as number)) {
        const revoked = REVOKED.test(error.reason);
        const reason = revoked
          ? 'SESSION_REVOKED'
          : EXPIRED.test(error.reason)
            ? 'TOKEN_EXPIRED'
            : 'TOKEN_INVALID';
        const token = connectionToken;
        // A fresh connection since this subscription (re)started: a new expiry, not a loop.
        if (connections > startedAt) replays = 0;
        if (!token || replays >= 1) {
          finish(unauthenticated(error.reason || 'Unauthorized.', reason));
          return;
        }
        replays++;
        try {
          if (!(await auth.rejected(token, reason))) {
            finish(unauthenticated('The session has ended; sign in again.', 'SESSION_REVOKED'));
            return;
          }
        } catch (refreshError) {
          finish(refreshError);
          return;
        }
        start();
        return;
      }
      if (Array.isArray(error)) {
        finish(ArcadiaError.fromResponse(error));
      } else if (error instanceof ArcadiaError || error instanceof ArcadiaNetworkError) {
        finish(error);
      } else if (isCloseEvent(error)) {
        finish(
          new ArcadiaNetworkError(`The subscription socket closed (${error.code} ${error.reason})`),
        );
      } else {
        finish(
          new ArcadiaNetworkError(`The subscription socket failed: ${String(error)}`, {
            cause: error,
          }),
        );
      }
    };

    const onComplete = async () => {
      dispose = null;
      if (ended) return;
      const close = await nextClose(SHUTDOWN_CLOSE_WINDOW_MS);
      if (ended) return;
      if (close && close.code !== 1000) {
        // The router completed it as it shut down: resubscribe (graphql-ws
        // reconnects with its back-off).
        start();
        return;
      }
      finish();
    };

    const start = () => {
      if (ended) return;
      startedAt = connections;
      if (connected) queueMicrotask(markStarted);
      else {
        const onConnected = () => {
          connectWaiters.delete(onConnected);
          markStarted();
        };
        connectWaiters.add(onConnected);
      }
      dispose = socket().subscribe<TData>(payload, {
        next: onResult,
        error: (error) => void onError(error),
        complete: () => void onComplete(),
      });
    };

    active.add(handle);
    start();

    const iterator: LiveSubscription<TData> = {
      started,
      async next(): Promise<IteratorResult<TData>> {
        for (;;) {
          if (queue.length > 0) return { value: queue.shift()!, done: false };
          if (ended) {
            if (failure !== undefined) {
              const error = failure;
              failure = undefined;
              // What finish() was given: ArcadiaError, ArcadiaNetworkError, or a refresh's error.
              throw error as Error;
            }
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      return() {
        queue.length = 0;
        finish();
        failure = undefined;
        return Promise.resolve({ value: undefined, done: true });
      },
      throw(error?: unknown) {
        queue.length = 0;
        finish();
        failure = undefined;
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  return {
    subscribe,
    /** Ends every subscription and closes the socket. */
    async close() {
      for (const subscription of [...active]) subscription.end();
      connectWaiters.clear();
      const current = client;
      client = null;
      await current?.dispose();
    },
  };
}
