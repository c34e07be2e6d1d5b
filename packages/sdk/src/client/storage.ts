import type { SessionFragment } from '../generated/graphql.js';

/** A user session as the client keeps it. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** When the access token ends (ISO-8601). */
  expiresAt: string;
  user: SessionFragment['user'];
}

/**
 * Where the session is kept. The client reads it back before every use
 * (storage is the source of truth, so that tabs sharing it never use a
 * refresh token another tab already spent).
 */
export interface SessionStorage {
  load(): StoredSession | null | Promise<StoredSession | null>;
  save(session: StoredSession | null): void | Promise<void>;
  /**
   * Runs `task` while no other holder of this storage (another tab) runs
   * one: a refresh inside it re-reads the session first. Without it,
   * refreshes are serialised within this client only.
   */
  exclusive?<T>(task: () => Promise<T>): Promise<T>;
}

/** Keeps the session in this client's memory: the default, and for Node. */
export function memorySessionStorage(initial: StoredSession | null = null): SessionStorage {
  let session = initial;
  return {
    load: () => session,
    save: (next) => {
      session = next;
    },
  };
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

const isStoredSession = (value: unknown): value is StoredSession => {
  const v = value as Partial<StoredSession> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.accessToken === 'string' &&
    typeof v.refreshToken === 'string' &&
    typeof v.expiresAt === 'string' &&
    typeof v.user === 'object' &&
    v.user !== null
  );
};

/**
 * Browser: keeps the session in `localStorage` under `key`, shared by the
 * tabs of the origin. Refreshes are serialised across tabs with the Web
 * Locks API when present (`navigator.locks`), and the refresh re-reads
 * storage inside the lock, so two tabs never present the same refresh
 * token (which would end the session). `localStorage` is looked up on
 * use, so the module loads anywhere.
 */
export function localSessionStorage(key = 'arcadia.session'): SessionStorage {
  const store = () => {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    if (!storage) throw new Error('localSessionStorage needs localStorage (a browser)');
    return storage;
  };
  const locks = () =>
    (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? undefined;
  return {
    load() {
      const text = store().getItem(key);
      if (text === null) return null;
      try {
        const value: unknown = JSON.parse(text);
        return isStoredSession(value) ? value : null;
      } catch {
        return null; // damaged: as if signed out
      }
    },
    save(session) {
      if (session === null) store().removeItem(key);
      else store().setItem(key, JSON.stringify(session));
    },
    exclusive(task) {
      const manager = locks();
      return manager ? manager.request(`${key}.refresh`, task) : task();
    },
  };
}
