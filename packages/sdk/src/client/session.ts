import {
  RefreshSessionDocument,
  SignInDocument,
  SignOutDocument,
  SignUpDocument,
  type SignUpInput,
} from '../generated/graphql.js';
import { msUntil, type AuthStrategy, type RawCall } from './auth.js';
import { isArcadiaError, unauthenticated } from './errors.js';
import type { Emitter } from './events.js';
import type { SessionStorage, StoredSession } from './storage.js';

/** Why the client let go of a session. */
export type SignedOutReason = 'SIGNED_OUT' | 'SESSION_REVOKED' | 'REFRESH_FAILED';

/** The client's events (see `ArcadiaClient.on`). */
export interface ArcadiaClientEvents {
  /** A new or refreshed session, or null once it is gone. */
  session: StoredSession | null;
  /** The session ended: signed out here, revoked on the server, or it could not be refreshed. */
  signedOut: { reason: SignedOutReason };
  /** The state of the subscription socket. */
  connection: { state: 'connecting' | 'connected' | 'reconnecting' | 'closed' };
}

/** The user-session half of the client: `client.session`. */
export interface SessionApi {
  signUp(input: SignUpInput): Promise<StoredSession>;
  signIn(email: string, password: string): Promise<StoredSession>;
  /** Ends the session on the server (best effort) and forgets it locally; emits 'signedOut' with reason 'SIGNED_OUT'. */
  signOut(): Promise<void>;
  /** Refreshes now (single-flight: concurrent callers share one refresh). */
  refresh(): Promise<StoredSession>;
  /** The current session, as storage has it. */
  current(): Promise<StoredSession | null>;
}

/**
 * A refresh this long before the access token ends rather than after a
 * refusal: saves the round trip of a 401 for a token known to be stale.
 * At most half of a token's lifetime, so that short-lived tokens (a
 * deployment with lifetimes of seconds) are not refreshed before every
 * request.
 */
const REFRESH_SKEW_MS = 10_000;

/**
 * User sessions (`{ kind: 'session' }`): sign-up and sign-in store the
 * session, requests carry its access token, and a token that is about to
 * end or was refused is refreshed once, single-flight, serialised across
 * tabs by the storage when it can (refresh tokens rotate, and presenting
 * a spent one ends the session). A revoked session or a refused refresh is
 * forgotten and reported as 'signedOut'.
 */
export function createSessionAuth(deps: {
  storage: SessionStorage;
  call: RawCall;
  events: Emitter<ArcadiaClientEvents>;
}): AuthStrategy & { api: SessionApi } {
  const { storage, call, events } = deps;
  let inFlight: Promise<StoredSession> | null = null;
  // The margin of the token this client received last (its lifetime is
  // known only on receipt); a token from storage gets the full margin.
  let received: { accessToken: string; skewMs: number } | null = null;
  const skewOf = (session: StoredSession) =>
    received?.accessToken === session.accessToken ? received.skewMs : REFRESH_SKEW_MS;

  const load = async () => (await storage.load()) ?? null;

  const adopt = async (session: StoredSession) => {
    received = {
      accessToken: session.accessToken,
      skewMs: Math.min(REFRESH_SKEW_MS, msUntil(session.expiresAt) / 2),
    };
    await storage.save(session);
    events.emit('session', session);
    return session;
  };

  const forget = async (reason: SignedOutReason) => {
    await storage.save(null);
    events.emit('session', null);
    events.emit('signedOut', { reason });
  };

  /**
   * Refreshes the stored session unless it is no longer `stale` (another
   * caller or tab refreshed it meanwhile: then that one is used).
   */
  const refresh = (stale: StoredSession | null): Promise<StoredSession> => {
    inFlight ??= (async () => {
      const run = async () => {
        const current = await load();
        if (!current) throw unauthenticated('Not signed in.', 'NO_SESSION');
        if (stale && current.refreshToken !== stale.refreshToken) return current;
        let next: StoredSession;
        try {
          // Safe to send again after a network failure: the router answers a
          // duplicate within 30 s with the same pair.
          const data = await call(
            RefreshSessionDocument,
            { refreshToken: current.refreshToken },
            { token: null, idempotent: true },
          );
          next = data.refreshSession;
        } catch (error) {
          if (isArcadiaError(error, 'UNAUTHENTICATED')) await forget('REFRESH_FAILED');
          throw error;
        }
        return adopt(next);
      };
      return storage.exclusive ? storage.exclusive(run) : run();
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  return {
    async accessToken() {
      const session = await load();
      if (!session) return null;
      if (msUntil(session.expiresAt) > skewOf(session)) return session.accessToken;
      return (await refresh(session)).accessToken;
    },
    async rejected(token, reason) {
      const session = await load();
      if (!session) return false;
      if (reason === 'SESSION_REVOKED') {
        if (session.accessToken === token) await forget('SESSION_REVOKED');
        return false;
      }
      // Refreshed meanwhile (a concurrent request, another tab): replay with that.
      if (session.accessToken !== token) return true;
      await refresh(session);
      return true;
    },
    api: {
      async signUp(input) {
        const data = await call(SignUpDocument, { input }, { token: null });
        return adopt(data.signUp);
      },
      async signIn(email, password) {
        const data = await call(SignInDocument, { email, password }, { token: null });
        return adopt(data.signIn);
      },
      async signOut() {
        const session = await load();
        if (session) {
          try {
            await call(SignOutDocument, {}, { token: session.accessToken });
          } catch {
            // Best effort: the session is forgotten here whatever the server said.
          }
        }
        await forget('SIGNED_OUT');
      },
      refresh: () => refresh(null),
      current: load,
    },
  };
}
