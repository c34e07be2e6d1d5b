import type { Redis } from 'ioredis';
import { revokedSessionKey, sessionRevokedChannel } from '@arcadia/auth';

/** Tells every router that sessions ended; see `@arcadia/auth`'s revocations. */
export interface SessionRevoker {
  /**
   * Marks `sessionId` revoked for `ttlSeconds` (the access-token lifetime)
   * and announces it. Rejects when Redis does not take it: the caller then
   * knows the session's access tokens still work.
   */
  revoke(sessionId: string): Promise<void>;
}

/** A {@link SessionRevoker} on `redis`, under `prefix`. */
export function createSessionRevoker(
  redis: Redis,
  options: { prefix: string; ttlSeconds: number },
): SessionRevoker {
  return {
    async revoke(sessionId) {
      // One round trip; the key first, so a router that hears the
      // announcement and checks finds it.
      const results = await redis
        .multi()
        .set(revokedSessionKey(options.prefix, sessionId), '1', 'EX', options.ttlSeconds)
        .publish(sessionRevokedChannel(options.prefix), sessionId)
        .exec();
      const failed = results?.find(([error]) => error)?.[0];
      if (!results || failed) throw failed ?? new Error('session revocation was not applied');
    },
  };
}
