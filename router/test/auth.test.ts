/**
 * The router's one authentication: the same caller and the same refusals
 * for the HTTP header, the SSE request and the graphql-ws connection params.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenSigner, createTokenVerifier, generateJwtKey, publicJwks } from '@arcadia/auth';
import { UserError } from '@arcadia/errors';
import {
  authorizationFromConnectionParams,
  createAuthenticator,
  type Authenticate,
} from '../src/auth.js';

const REVOKED = 'session-signed-out';
let authenticate: Authenticate;
let signer: ReturnType<typeof createTokenSigner>;

beforeAll(async () => {
  const key = await generateJwtKey();
  signer = createTokenSigner([key]);
  authenticate = createAuthenticator(createTokenVerifier({ jwks: publicJwks([key]) }), {
    isRevoked: (sessionId) => Promise.resolve(sessionId === REVOKED),
  });
});

/** The refusal `authorization` gets: UNAUTHENTICATED, HTTP 401, with its reason. */
async function refusal(authorization: unknown) {
  const error = await authenticate(authorization).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  const { extensions } = error as UserError;
  expect(extensions).toMatchObject({ code: 'UNAUTHENTICATED', http: { status: 401 } });
  return extensions.reason;
}

describe('authentication', () => {
  it('treats a missing or empty Authorization as the anonymous caller', async () => {
    for (const absent of [undefined, null, '']) {
      expect(await authenticate(absent)).toEqual({
        caller: { userId: null, roles: [], scopes: [] },
        expiresAt: null,
      });
    }
  });

  it("gives a valid bearer token's caller and when the token expires", async () => {
    const { token, expiresAt } = await signer.sign(
      { userId: 'u1', roles: ['USER'], scopes: ['store:read'], clientId: 'studio' },
      60,
    );
    expect(await authenticate(`Bearer ${token}`)).toEqual({
      caller: { userId: 'u1', roles: ['USER'], scopes: ['store:read'], clientId: 'studio' },
      expiresAt,
    });
  });

  it('refuses a token of a revoked session with SESSION_REVOKED, and takes one of a live session', async () => {
    const user = { userId: 'u1', roles: ['USER'] as const, scopes: [] };
    const revoked = await signer.sign({ ...user, sessionId: REVOKED }, 60);
    expect(await refusal(`Bearer ${revoked.token}`)).toBe('SESSION_REVOKED');
    const live = await signer.sign({ ...user, sessionId: 'session-live' }, 60);
    expect((await authenticate(`Bearer ${live.token}`)).caller.sessionId).toBe('session-live');
  });

  it('refuses an expired token with TOKEN_EXPIRED', async () => {
    const { token } = await signer.sign({ userId: 'u1', roles: [], scopes: [] }, -60);
    expect(await refusal(`Bearer ${token}`)).toBe('TOKEN_EXPIRED');
  });

  it('refuses garbage, other schemes and values that are not strings with TOKEN_INVALID', async () => {
    for (const bad of ['Bearer junk', 'Basic dXNlcjpwYXNz', 42, { token: 'x' }, ['Bearer x']]) {
      expect(await refusal(bad)).toBe('TOKEN_INVALID');
    }
  });
});

describe('remembering verified tokens', () => {
  it('answers a token it verified before without verifying it again', async () => {
    const key = await generateJwtKey();
    const verifier = createTokenVerifier({ jwks: publicJwks([key]) });
    let verifications = 0;
    const counting = {
      verify: (token: string) => {
        verifications++;
        return verifier.verify(token);
      },
    };
    const auth = createAuthenticator(counting, { isRevoked: () => Promise.resolve(false) });
    const { token } = await createTokenSigner([key]).sign(
      { userId: 'u1', roles: [], scopes: [] },
      60,
    );
    const first = await auth(`Bearer ${token}`);
    expect(await auth(`Bearer ${token}`)).toEqual(first);
    expect(verifications).toBe(1);
    // Another token is verified on its own: the cache is keyed by the exact token.
    const other = await createTokenSigner([key]).sign({ userId: 'u2', roles: [], scopes: [] }, 60);
    expect((await auth(`Bearer ${other.token}`)).caller.userId).toBe('u2');
    expect(verifications).toBe(2);
  });

  it('refuses a remembered token with TOKEN_EXPIRED once it expires', async () => {
    const key = await generateJwtKey();
    const auth = createAuthenticator(createTokenVerifier({ jwks: publicJwks([key]) }), {
      isRevoked: () => Promise.resolve(false),
    });
    const { token } = await createTokenSigner([key]).sign(
      { userId: 'u1', roles: [], scopes: [] },
      1,
    );
    await auth(`Bearer ${token}`);
    vi.useFakeTimers({ now: Date.now() + 2_000, toFake: ['Date'] });
    try {
      const error = await auth(`Bearer ${token}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as UserError).extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_EXPIRED',
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('checks the session of a remembered token on every request', async () => {
    const key = await generateJwtKey();
    let revoked = false;
    const auth = createAuthenticator(createTokenVerifier({ jwks: publicJwks([key]) }), {
      isRevoked: () => Promise.resolve(revoked),
    });
    const { token } = await createTokenSigner([key]).sign(
      { userId: 'u1', roles: [], scopes: [], sessionId: 's1' },
      60,
    );
    await auth(`Bearer ${token}`);
    revoked = true;
    await expect(auth(`Bearer ${token}`)).rejects.toMatchObject({
      extensions: { reason: 'SESSION_REVOKED' },
    });
  });
});

describe('the authorization of graphql-ws connection params', () => {
  it('is read from authorization or Authorization, at the top or under headers', () => {
    expect(authorizationFromConnectionParams({ authorization: 'a' })).toBe('a');
    expect(authorizationFromConnectionParams({ Authorization: 'b' })).toBe('b');
    expect(authorizationFromConnectionParams({ headers: { authorization: 'c' } })).toBe('c');
    expect(authorizationFromConnectionParams({ headers: { Authorization: 'd' } })).toBe('d');
  });

  it('prefers the top level, and is absent when nothing carries it', () => {
    expect(
      authorizationFromConnectionParams({ authorization: 'top', headers: { authorization: 'x' } }),
    ).toBe('top');
    expect(authorizationFromConnectionParams({ headers: 'not an object' })).toBeUndefined();
    expect(authorizationFromConnectionParams(undefined)).toBeUndefined();
  });
});
