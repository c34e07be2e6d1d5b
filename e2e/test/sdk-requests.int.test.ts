/**
 * Requests through the SDK against the whole system: persisted queries on
 * the wire, typed errors, a partner's client credentials, and an image
 * upload with progress.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateApiClientDocument,
  GrantRoleDocument,
  ImageDocument,
  MeDocument,
  SignInDocument,
  SignUpDocument,
  WebPushPublicKeyDocument,
  isArcadiaError,
  type ArcadiaError,
} from '@arcadia/sdk';
import { pngImage } from '../src/images.js';
import { startSystem, type ArcadiaSystem } from '../src/system.js';
import { clientFactory, newUserInput, signUpWith } from './sdk-fixtures.js';

/** The error `promise` rejects with (fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ArcadiaError> {
  const outcome = await promise.then(
    (data) => ({ data }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected an error, got ${JSON.stringify(outcome)}`);
  if (!isArcadiaError(outcome.error)) throw outcome.error;
  return outcome.error;
}

describe('SDK requests against the whole system', () => {
  let system: ArcadiaSystem;
  const clients = clientFactory(() => system);
  const maxSignInFailures = 3;
  beforeAll(async () => {
    system = await startSystem({
      accountsEnv: { SIGN_IN_MAX_FAILURES: String(maxSignInFailures) },
    });
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  describe('automatic persisted queries', () => {
    it('registers an operation once, then sends only its hash, from any client', async () => {
      const first = clients.create();
      const second = clients.create();
      expect(await first.client.request(WebPushPublicKeyDocument)).toEqual({
        webPushPublicKey: null,
      });
      expect(await first.client.request(WebPushPublicKeyDocument)).toEqual({
        webPushPublicKey: null,
      });
      expect(await second.client.request(WebPushPublicKeyDocument)).toEqual({
        webPushPublicKey: null,
      });

      const [unknown, registration, byHash] = first.sentOf('WebPushPublicKey');
      const hash = unknown?.body.extensions?.persistedQuery?.sha256Hash;
      expect(unknown?.body.query).toBeUndefined();
      expect(unknown?.codes).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(registration?.body.extensions?.persistedQuery?.sha256Hash).toBe(hash);
      expect(hash).toBe(createHash('sha256').update(registration!.body.query!).digest('hex'));
      expect(registration?.codes).toEqual([]);
      expect(byHash?.body).not.toHaveProperty('query');
      expect(byHash?.body.extensions?.persistedQuery?.sha256Hash).toBe(hash);
      expect(byHash?.codes).toEqual([]);
      expect(first.sentOf('WebPushPublicKey')).toHaveLength(3);
      // Another client's first request is already a hit.
      expect(second.sentOf('WebPushPublicKey').map((r) => [r.body.query, r.codes])).toEqual([
        [undefined, []],
      ]);
    });

    it('sends the query itself when persisted queries are off', async () => {
      const plain = clients.create({ persistedQueries: false });
      await plain.client.request(WebPushPublicKeyDocument);
      expect(
        plain.sentOf('WebPushPublicKey').map((r) => [Boolean(r.body.query), r.body.extensions]),
      ).toEqual([[true, undefined]]);
    });
  });

  describe('typed errors', () => {
    it('reports BAD_USER_INPUT with the field at fault', async () => {
      const { client } = clients.create();
      const error = await rejection(
        client.request(SignUpDocument, { input: { ...newUserInput(), password: 'short' } }),
      );
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(isArcadiaError(error, 'BAD_USER_INPUT') && error.first.field).toBe('password');
    });

    it('reports CONFLICT with the field that is taken', async () => {
      const { client } = clients.create();
      const input = newUserInput();
      await client.request(SignUpDocument, { input });
      const error = await rejection(
        client.request(SignUpDocument, { input: { ...newUserInput(), handle: input.handle } }),
      );
      expect(isArcadiaError(error, 'CONFLICT') && error.first.field).toBe('handle');
    });

    it('reports FORBIDDEN to a user granting a role, and NOT_FOUND to an admin granting it to nobody', async () => {
      const { client } = clients.create();
      const session = await signUpWith(client);
      const forbidden = await rejection(
        client.request(GrantRoleDocument, { userId: session.user.id, role: 'ADMIN' }),
      );
      expect(forbidden.code).toBe('FORBIDDEN');
      expect(forbidden.first.path).toEqual(['grantRole']);

      const admin = clients.create().client;
      const adminUser = await system.makeAdmin();
      await admin.session.signIn(adminUser.email, adminUser.password);
      const notFound = await rejection(
        admin.request(GrantRoleDocument, {
          userId: '00000000-0000-4000-8000-000000000000',
          role: 'PARTNER',
        }),
      );
      expect(notFound.code).toBe('NOT_FOUND');
    });

    it('reports RATE_LIMITED with retryAfterSeconds once sign-in attempts run out, without retrying the mutation', async () => {
      const { client, sentOf } = clients.create();
      const input = newUserInput('limited');
      await client.request(SignUpDocument, { input });
      const wrong = () =>
        rejection(
          client.request(SignInDocument, { email: input.email, password: 'not the password' }),
        );
      for (let i = 0; i < maxSignInFailures; i++)
        expect((await wrong()).code).toBe('UNAUTHENTICATED');
      const limited = await wrong();
      expect(limited.code).toBe('RATE_LIMITED');
      if (!isArcadiaError(limited, 'RATE_LIMITED')) throw limited;
      expect(limited.first.retryAfterSeconds).toBeGreaterThan(0);
      // Even the right password waits now.
      const right = await rejection(
        client.request(SignInDocument, { email: input.email, password: input.password }),
      );
      expect(right.code).toBe('RATE_LIMITED');
      // One request per call (after the APQ registration): a mutation is never retried.
      const tries = sentOf('SignIn').filter((r) => !r.codes.includes('PERSISTED_QUERY_NOT_FOUND'));
      expect(tries).toHaveLength(maxSignInFailures + 2);
    });
  });

  describe('partner client credentials', () => {
    it('lets a client with an API client’s credentials call me as its owner', async () => {
      const partner = clients.create().client;
      const owner = await signUpWith(partner, 'partner');
      const admin = clients.create().client;
      const adminUser = await system.makeAdmin();
      await admin.session.signIn(adminUser.email, adminUser.password);
      await admin.request(GrantRoleDocument, { userId: owner.user.id, role: 'PARTNER' });
      // PARTNER is in the owner's tokens from the next refresh on.
      await partner.session.refresh();
      const { createApiClient } = await partner.request(CreateApiClientDocument, {
        name: 'Leaderboard sync',
        scopes: ['leaderboards:read'],
      });

      const service = clients.create({
        auth: {
          kind: 'clientCredentials',
          clientId: createApiClient.clientId,
          clientSecret: createApiClient.clientSecret,
        },
      });
      const { me } = await service.client.request(MeDocument);
      expect(me).toMatchObject({ id: owner.user.id, roles: expect.arrayContaining(['PARTNER']) });
      await service.client.request(MeDocument);
      // One token for both requests.
      expect(service.sentOf('IssueClientToken').filter((r) => r.codes.length === 0)).toHaveLength(
        1,
      );
    });
  });

  describe('image upload', () => {
    it('uploads with progress to a READY image with WebP variants', async () => {
      const { client } = clients.create();
      await signUpWith(client, 'uploader');
      // Larger than one chunk of the streamed PUT, so progress comes in steps.
      const body = new Uint8Array(pngImage(800, 600));
      expect(body.byteLength).toBeGreaterThan(200 * 1024);
      const progress: { loaded: number; total: number }[] = [];
      const image = await client.uploadImage(body, {
        contentType: 'image/png',
        onProgress: (p) => progress.push({ ...p }),
      });
      expect(image).toMatchObject({ status: 'READY', width: 800, height: 600 });
      expect(image.variants.map((v) => v.format)).toEqual(['webp', 'webp', 'webp']);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.every((p) => p.total === body.byteLength)).toBe(true);
      expect(progress.map((p) => p.loaded)).toEqual(
        [...progress.map((p) => p.loaded)].sort((a, b) => a - b),
      );
      expect(progress.at(-1)?.loaded).toBe(body.byteLength);
      const { image: stored } = await client.request(ImageDocument, { id: image.id });
      expect(stored?.status).toBe('READY');
    });
  });
});
