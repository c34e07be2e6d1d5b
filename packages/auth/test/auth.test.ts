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
  const request = { query: '{ me { id } }', operationName: null, variables: { a: [1, 'x'] } };
  const toChat = { audience: 'chat', request };

  it('carries the caller from router to subgraph', async () => {
    const header = await createCallerSigner(['s1'])({ ...user, clientId: 'c1' }, toChat);
    await expect(createCallerVerifier(['s1'])(header, toChat)).resolves.toMatchObject({
      userId: 'u1',
      clientId: 'c1',
    });
    await expect(
      createCallerVerifier(['s1'])(await createCallerSigner(['s1'])(ANONYMOUS, toChat), toChat),
    ).resolves.toMatchObject({ userId: null });
  });

  it('is refused when missing or signed with another secret', async () => {
    const forged = await createCallerSigner(['attacker'])(user, toChat);
    expect(
      (await rejection(createCallerVerifier(['s1'])(forged, toChat))).extensions,
    ).toMatchObject({ reason: 'BAD_SIGNATURE' });
    expect(
      (await rejection(createCallerVerifier(['s1'])(undefined, toChat))).extensions,
    ).toMatchObject({ reason: 'UNSIGNED' });
  });

  it('accepts the old secret during a rotation', async () => {
    const header = await createCallerSigner(['old'])(user, toChat);
    await expect(createCallerVerifier(['new', 'old'])(header, toChat)).resolves.toMatchObject({
      userId: 'u1',
    });
  });

  it('is refused by another subgraph, for another request, method or connection', async () => {
    const verify = createCallerVerifier(['s1']);
    const header = await createCallerSigner(['s1'])(user, toChat);
    // The same request, parsed again from JSON as the subgraph sees it: accepted.
    const received = JSON.parse(JSON.stringify(request)) as typeof request;
    await expect(verify(header, { audience: 'chat', request: received })).resolves.toBeDefined();
    const refusals = [
      { audience: 'accounts', request },
      { audience: 'chat', request: { ...request, variables: { a: [1, 'y'] } } },
      { audience: 'chat', request: { ...request, query: '{ me { email } }' } },
      { audience: 'chat', request: { ...request, operationName: 'Other' } },
      { audience: 'chat', method: 'GET', request },
      { audience: 'chat', connection: true as const },
    ];
    for (const binding of refusals) {
      expect(
        (await rejection(verify(header, binding))).extensions,
        JSON.stringify(binding),
      ).toMatchObject({ reason: 'BAD_SIGNATURE' });
    }
  });

  it('binds to the same request whether the sender passes its variables or their JSON text', async () => {
    const header = await createCallerSigner(['s1'])(user, {
      audience: 'chat',
      request: {
        ...request,
        variables: undefined,
        variablesJson: JSON.stringify(request.variables),
      },
    });
    await expect(createCallerVerifier(['s1'])(header, toChat)).resolves.toMatchObject({
      userId: 'u1',
    });
  });

  it('reuses one signed caller across requests, each header still bound to its own request', async () => {
    const sign = createCallerSigner(['s1']);
    const verify = createCallerVerifier(['s1']);
    const other = { audience: 'chat', request: { query: '{ other }' } };
    const [first, second] = [await sign(user, toChat), await sign(user, other)];
    const [jwt, mac] = first.split('~');
    // The same caller JWT (signed once), a different binding each.
    expect(second.split('~')[0]).toBe(jwt);
    expect(second.split('~')[1]).not.toBe(mac);
    await expect(verify(second, other)).resolves.toMatchObject({ userId: 'u1' });
    // Another request's binding grafted onto the header is refused.
    const grafted = `${jwt}~${second.split('~')[1]}`;
    expect((await rejection(verify(grafted, toChat))).extensions).toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
    // A socket signature is never a reused one: each is signed afresh.
    const socket = { audience: 'chat', connection: true as const };
    expect((await sign(user, socket)).split('~')[0]).not.toBe(jwt);
  });

  it('opens a subscription socket only with a connection signature, which lives longer', async () => {
    const verify = createCallerVerifier(['s1']);
    const socket = { audience: 'chat', connection: true as const };
    const sign = createCallerSigner(['s1'], { connectionTtlSeconds: 120 });
    const verified = await verify(await sign(user, socket), socket);
    const lifetime = verified.signatureExpiresAt.getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(110_000);
    expect(lifetime).toBeLessThanOrEqual(120_000);
    const forRequest = await verify(await sign(user, toChat), toChat);
    expect(forRequest.signatureExpiresAt.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await rejection(verify(await sign(user, toChat), socket))).extensions).toMatchObject({
      reason: 'BAD_SIGNATURE',
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
