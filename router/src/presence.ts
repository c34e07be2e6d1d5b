import { randomUUID } from 'node:crypto';
import type { Caller } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { Presence } from '@arcadia/presence';

/**
 * This router instance's live connections of signed-in users, kept in
 * Redis presence. Every call into Redis is fire and forget: presence is a
 * hint for other services (push when offline, the Presence field), so Redis
 * being slow or down must never delay or break a client's socket.
 */
export interface SocketPresence {
  /**
   * Registers a new connection of `caller`; returns its socket id, to
   * {@link SocketPresence.release} it with, or null when the caller is
   * not tracked (anonymous, a partner client's token, or the router is closing).
   */
  register(caller: Caller): string | null;
  /** Removes a connection; a null/undefined or already released id is a no-op. */
  release(socketId: string | null | undefined): void;
  /**
   * Stops the heartbeat and removes every connection still registered
   * (best effort), then waits for the pending presence writes, so that they
   * reach Redis before its client quits.
   */
  close(): Promise<void>;
}

// Redis down means one failure per socket and tick; one line per interval says enough.
const WARN_INTERVAL_MS = 30_000;

/**
 * Tracks the sockets of this router instance in `presence`. One timer per
 * instance, not per socket, extends all of them every third of the ttl in
 * one call: a tick missed to a slow Redis still leaves two before they lapse.
 */
export function trackSocketPresence(
  presence: Presence,
  options: { ttlSeconds: number; logger: Logger },
): SocketPresence {
  const { logger } = options;
  // socket id → user id of every registered connection of this instance.
  const live = new Map<string, string>();
  const pending = new Set<Promise<void>>();
  let closed = false;
  let lastWarnAt = 0;

  const warn = (error: unknown, action: string) => {
    if (Date.now() - lastWarnAt < WARN_INTERVAL_MS) return;
    lastWarnAt = Date.now();
    logger.warn({ err: error, action }, 'presence unavailable; users may show as offline');
  };
  const track = (promise: Promise<void>, action: string) => {
    const settled = promise.catch((error: unknown) => warn(error, action));
    pending.add(settled);
    void settled.finally(() => pending.delete(settled));
    return settled;
  };
  // Calls presence lazily inside a promise chain so a synchronous throw
  // (never expected, but presence is someone else's code) is caught as well.
  const attempt = (action: string, call: () => Promise<void>) =>
    track(Promise.resolve().then(call), action);

  let beating: Promise<void> | undefined;
  const timer = setInterval(
    () => {
      // A tick still waiting on Redis is not doubled up.
      if (beating || !live.size) return;
      const sockets = [...live].map(([socketId, userId]) => ({ userId, socketId }));
      beating = attempt('heartbeat', () => presence.heartbeat(sockets)).finally(() => {
        beating = undefined;
      });
    },
    Math.max(1, Math.floor((options.ttlSeconds * 1000) / 3)),
  );
  // The heartbeat alone must not keep a process alive.
  timer.unref();

  const disconnect = (socketId: string, userId: string) => {
    live.delete(socketId);
    void attempt('disconnect', () => presence.disconnect(userId, socketId));
  };

  return {
    register(caller) {
      // A partner client's token acts for its owner but is a program, not
      // the person being online.
      if (closed || !caller.userId || caller.clientId) return null;
      const socketId = randomUUID();
      const userId = caller.userId;
      live.set(socketId, userId);
      void attempt('connect', () => presence.connect(userId, socketId));
      return socketId;
    },
    release(socketId) {
      if (!socketId) return;
      const userId = live.get(socketId);
      if (userId !== undefined) disconnect(socketId, userId);
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const [socketId, userId] of live) disconnect(socketId, userId);
      await Promise.all([...pending]);
    },
  };
}
