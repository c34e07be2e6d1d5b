/**
 * The client's pure pieces with real inputs: the retry policy, back-off
 * bounds, error parsing into the typed union, APQ hashing, storage.
 */
import { createHash } from 'node:crypto';
import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { prepareOperation, sha256Hex } from '../src/client/apq.js';
import { parseGraphQLError } from '../src/client/errors.js';
import {
  backoffDelay,
  DEFAULT_RETRY,
  isRetrySafe,
  retryDecision,
  retryPolicy,
} from '../src/client/retry.js';
import {
  ArcadiaError,
  ArcadiaNetworkError,
  ARCADIA_ERROR_CODES,
  isArcadiaError,
  localSessionStorage,
  memorySessionStorage,
  SendMessageDocument,
  type StoredSession,
} from '../src/index.js';
import { CONTRACT_ERROR_CODES } from '../src/generated/error-codes.js';

const rateLimited = (seconds: number) =>
  ArcadiaError.fromResponse([
    { message: 'Too many.', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: seconds } },
  ]);

describe('the retry policy', () => {
  it('retries queries, and mutations only with their idempotency key or when told', () => {
    expect(isRetrySafe({ kind: 'query', name: 'Me', variables: undefined })).toBe(true);
    expect(
      isRetrySafe({ kind: 'mutation', name: 'SendMessage', variables: { clientMessageId: 'm1' } }),
    ).toBe(true);
    expect(isRetrySafe({ kind: 'mutation', name: 'SendMessage', variables: {} })).toBe(false);
    expect(isRetrySafe({ kind: 'mutation', name: 'SignIn', variables: { email: 'a' } })).toBe(
      false,
    );
    expect(
      isRetrySafe({ kind: 'mutation', name: 'SignIn', variables: undefined, idempotent: true }),
    ).toBe(true);
    expect(
      isRetrySafe({ kind: 'query', name: 'Me', variables: undefined, idempotent: false }),
    ).toBe(false);
  });

  it('retries network errors and 5xx, but not 4xx or ordinary GraphQL errors', () => {
    const policy = DEFAULT_RETRY;
    expect(retryDecision(new ArcadiaNetworkError('down'), 0, policy).retry).toBe(true);
    expect(retryDecision(new ArcadiaNetworkError('x', { status: 503 }), 0, policy).retry).toBe(
      true,
    );
    expect(retryDecision(new ArcadiaNetworkError('x', { status: 404 }), 0, policy).retry).toBe(
      false,
    );
    const internal = ArcadiaError.fromResponse(
      [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      { status: 500 },
    );
    expect(retryDecision(internal, 0, policy).retry).toBe(true);
    const forbidden = ArcadiaError.fromResponse([
      { message: 'No.', extensions: { code: 'FORBIDDEN' } },
    ]);
    expect(retryDecision(forbidden, 0, policy).retry).toBe(false);
  });

  it('waits out a short RATE_LIMITED exactly and gives up on a long one', () => {
    expect(retryDecision(rateLimited(2), 0, DEFAULT_RETRY)).toEqual({ retry: true, delayMs: 2000 });
    expect(retryDecision(rateLimited(6), 0, DEFAULT_RETRY)).toEqual({ retry: false });
  });

  it('stops after the configured attempts, and retry: false retries nothing', () => {
    const down = new ArcadiaNetworkError('down');
    expect(retryDecision(down, 2, DEFAULT_RETRY).retry).toBe(true);
    expect(retryDecision(down, 3, DEFAULT_RETRY).retry).toBe(false);
    expect(retryDecision(down, 0, retryPolicy(false)).retry).toBe(false);
    expect(retryPolicy({ attempts: 5 })).toEqual({ ...DEFAULT_RETRY, attempts: 5 });
  });

  it('backs off with full jitter: between 0 and the doubling ceiling, capped at maxDelayMs', () => {
    const policy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, policy, () => 0)).toBe(0);
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.999)).toBe(399);
    expect(backoffDelay(8, policy, () => 0.999)).toBe(999);
    for (let retry = 0; retry < 8; retry++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(retry, policy);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(1000, 100 * 2 ** retry));
      }
    }
  });
});

describe('error parsing', () => {
  it('types each code with the fields it carries', () => {
    const error = ArcadiaError.fromResponse(
      [
        {
          message: 'Too many messages; wait a moment.',
          path: ['sendMessage'],
          extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 4 },
        },
        { message: 'Taken.', extensions: { code: 'CONFLICT', field: 'handle' } },
      ],
      { data: { sendMessage: null }, status: 200 },
    );
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.data).toEqual({ sendMessage: null });
    expect(error.message).toBe('Too many messages; wait a moment.');
    expect(isArcadiaError(error, 'RATE_LIMITED')).toBe(true);
    expect(isArcadiaError(error, 'CONFLICT')).toBe(false);
    if (isArcadiaError(error, 'RATE_LIMITED')) expect(error.first.retryAfterSeconds).toBe(4);
    expect(error.errors[1]).toMatchObject({ code: 'CONFLICT', field: 'handle' });
    expect(error.first.path).toEqual(['sendMessage']);
  });

  it('keeps the reason of UNAUTHENTICATED and the details of limits', () => {
    expect(
      parseGraphQLError({
        message: 'The access token has expired.',
        extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' },
      }),
    ).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' });
    expect(
      parseGraphQLError({
        message: 'Big.',
        extensions: { code: 'PAYLOAD_TOO_LARGE', maxBytes: 9 },
      }),
    ).toMatchObject({ maxBytes: 9 });
    expect(
      parseGraphQLError({
        message: 'Down.',
        extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: 'chat' },
      }),
    ).toMatchObject({ serviceName: 'chat' });
  });

  it('treats an error without a code as INTERNAL_SERVER_ERROR', () => {
    expect(parseGraphQLError({ message: 'boom' }).code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('knows every code of the contract and the protocol codes clients see', () => {
    for (const code of CONTRACT_ERROR_CODES) expect(ARCADIA_ERROR_CODES).toContain(code);
    for (const code of ['GRAPHQL_VALIDATION_FAILED', 'PERSISTED_QUERY_NOT_FOUND', 'BAD_REQUEST']) {
      expect(ARCADIA_ERROR_CODES).toContain(code);
    }
    expect(isArcadiaError(new Error('x'))).toBe(false);
  });
});

describe('persisted-query hashing', () => {
  it('hashes the printed document with SHA-256, as the router checks it', async () => {
    const operation = prepareOperation(SendMessageDocument);
    const expected = createHash('sha256').update(print(SendMessageDocument)).digest('hex');
    expect(operation.query).toBe(print(SendMessageDocument));
    expect(await operation.hash()).toBe(expected);
    expect(operation.operationName).toBe('SendMessage');
    expect(operation.kind).toBe('mutation');
    expect(prepareOperation(SendMessageDocument)).toBe(operation);
    expect(await sha256Hex('é')).toBe(createHash('sha256').update('é').digest('hex'));
  });
});

const session = (refreshToken: string): StoredSession => ({
  accessToken: `access-${refreshToken}`,
  refreshToken,
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
  user: {
    id: 'u1',
    handle: 'nova',
    displayName: 'Nova',
    roles: ['USER'],
    email: 'nova@example.com',
    avatar: null,
  },
});

/** localStorage and navigator.locks as browsers have them, in memory. */
function browserGlobals() {
  const items = new Map<string, string>();
  const localStorage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
  let tail: Promise<unknown> = Promise.resolve();
  const held: string[] = [];
  const locks = {
    request<T>(name: string, task: () => Promise<T>): Promise<T> {
      const run = tail.then(async () => {
        held.push(name);
        try {
          return await task();
        } finally {
          held.pop();
        }
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
  return { items, localStorage, locks, held };
}

describe('session storage', () => {
  it('keeps a session in memory', async () => {
    const storage = memorySessionStorage();
    expect(await storage.load()).toBeNull();
    await storage.save(session('r1'));
    expect((await storage.load())?.refreshToken).toBe('r1');
    await storage.save(null);
    expect(await storage.load()).toBeNull();
  });

  it('keeps a session in localStorage under its key and runs refreshes under a Web Lock', async () => {
    const globals = browserGlobals();
    const saved = { localStorage: globalThis.localStorage, navigator: globalThis.navigator };
    Object.defineProperty(globalThis, 'localStorage', {
      value: globals.localStorage,
      configurable: true,
    });
    Object.defineProperty(globalThis, 'navigator', {
      value: { locks: globals.locks },
      configurable: true,
    });
    try {
      const storage = localSessionStorage('test.session');
      await storage.save(session('r1'));
      expect(JSON.parse(globals.items.get('test.session')!).refreshToken).toBe('r1');
      expect((await storage.load())?.refreshToken).toBe('r1');
      globals.items.set('test.session', '{not json');
      expect(await storage.load()).toBeNull();
      const inside = await storage.exclusive!(() => Promise.resolve([...globals.held]));
      expect(inside).toEqual(['test.session.refresh']);
      await storage.save(null);
      expect(globals.items.has('test.session')).toBe(false);
    } finally {
      Object.defineProperty(globalThis, 'localStorage', {
        value: saved.localStorage,
        configurable: true,
      });
      Object.defineProperty(globalThis, 'navigator', {
        value: saved.navigator,
        configurable: true,
      });
    }
  });
});
