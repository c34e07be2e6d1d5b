import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ANONYMOUS,
  bearerToken,
  createCallerSigner,
  createCallerVerifier,
  createTokenSigner,
  createTokenVerifier,
  generateJwtKey,
  hasRole,
  loadKeyMaterial,
  publicJwks,
} from '../src/index.js';

const dir = await mkdtemp(join(tmpdir(), 'arcadia-auth-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const user = { userId: 'u1', roles: ['USER'] as const, scopes: [], sessionId: 's1' };

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as { extensions: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

describe('access tokens', () => {
  it('round-trip the caller through sign and verify', async () => {
    const key = await generateJwtKey();
    const signer = createTokenSigner([key]);
    const { token, expiresAt } = await signer.sign(user, 60);
    const caller = await createTokenVerifier({ jwks: signer.jwks }).verify(token);
    expect(caller).toMatchObject({ userId: 'u1', roles: ['USER'], sessionId: 's1' });
    expect(caller.expiresAt.getTime()).toBe(expiresAt.getTime());
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({
      kid: key.kid,
    });
  });

  it('keep verifying tokens of the previous key after a rotation', async () => {
    const oldKey = await generateJwtKey();
    const newKey = await generateJwtKey();
    const { token } = await createTokenSigner([oldKey]).sign(user, 60);
    const verifier = createTokenVerifier({ jwks: publicJwks([newKey, oldKey]) });
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'u1' });
  });

  it('refuse expired, foreign-key, unsigned and garbage tokens as UNAUTHENTICATED', async () => {
    const key = await generateJwtKey();
    const verifier = createTokenVerifier({ jwks: publicJwks([key]) });
    const expired = (await createTokenSigner([key]).sign(user, -10)).token;
    const foreign = (await createTokenSigner([await generateJwtKey()]).sign(user, 60)).token;
    const none = new UnsecuredJWT({ roles: ['ADMIN'] })
      .setSubject('u1')
      .setIssuer('arcadia')
      .setAudience('arcadia')
      .setExpirationTime('1h')
      .encode();
    const hs = await new SignJWT({ roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid! })
      .setSubject('u1')
      .setIssuer('arcadia')
      .setAudience('arcadia')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(key.x));
    expect((await rejection(verifier.verify(expired))).extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'TOKEN_EXPIRED',
    });
    for (const bad of [foreign, none, hs, 'garbage', '']) {
      expect((await rejection(verifier.verify(bad))).extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_INVALID',
      });
    }
  });

  it('read the bearer token out of an Authorization header', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken(undefined)).toBeNull();
    expect(() => bearerToken('Basic abc')).toThrow(/Bearer/);
  });
});

describe('signed caller header', () => {
  it('carries the caller from router to subgraph', async () => {
    const header = await createCallerSigner(['s1'])({ ...user, clientId: 'c1' });
    await expect(createCallerVerifier(['s1'])(header)).resolves.toMatchObject({
      userId: 'u1',
      clientId: 'c1',
    });
    await expect(
      createCallerVerifier(['s1'])(await createCallerSigner(['s1'])(ANONYMOUS)),
    ).resolves.toMatchObject({ userId: null });
  });

  it('is refused when missing or signed with another secret', async () => {
    const forged = await createCallerSigner(['attacker'])(user);
    expect((await rejection(createCallerVerifier(['s1'])(forged))).extensions).toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
    expect((await rejection(createCallerVerifier(['s1'])(undefined))).extensions).toMatchObject({
      reason: 'UNSIGNED',
    });
  });

  it('accepts the old secret during a rotation', async () => {
    const header = await createCallerSigner(['old'])(user);
    await expect(createCallerVerifier(['new', 'old'])(header)).resolves.toMatchObject({
      userId: 'u1',
    });
  });
});

describe('key material', () => {
  it('is generated once on first use and reused after', async () => {
    const file = join(dir, 'keys.json');
    const [a, b] = await Promise.all([
      loadKeyMaterial({ localFile: file }),
      loadKeyMaterial({ localFile: file }),
    ]);
    expect(a).toEqual(b);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(a);
    expect(a.jwtKeys[0]?.d).toBeTruthy();
  });

  it('comes from configuration in production', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'prod-1' };
    const material = await loadKeyMaterial({
      jwtKeysJson: JSON.stringify({ keys: [jwk] }),
      internalSecrets: ['x'],
      localFile: join(dir, 'unused.json'),
    });
    expect(material.jwtKeys[0]?.kid).toBe('prod-1');
  });

  it('lets ADMIN act with any role', () => {
    expect(hasRole({ ...ANONYMOUS, roles: ['ADMIN'] }, 'PARTNER')).toBe(true);
    expect(hasRole({ ...ANONYMOUS, roles: ['USER'] }, 'PARTNER')).toBe(false);
  });
});
