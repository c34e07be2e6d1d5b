/**
 * Subscriptions over graphql-ws, against doubles of the router's socket
 * and HTTP contracts: events as an async iterator, resubscription after a
 * dropped socket, refresh and reconnect on 4401 "Token expired", the end
 * of the session on 4401 "Session revoked", errors, unsubscribing.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ArcadiaError,
  ArcadiaNetworkError,
  createArcadiaClient,
  ImageUpdatedDocument,
  isArcadiaError,
  type ArcadiaClient,
} from '../src/index.js';
import { startRouterDouble } from './router-double.js';
import { startSocketDouble } from './socket-double.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const image = (status: string) => ({
  imageUpdated: { id: 'i1', status, variants: [] },
});

async function setup(refuse?: (authorization: unknown) => string | undefined) {
  const router = await startRouterDouble();
  const sockets = await startSocketDouble(refuse ? { refuse } : {});
  const client: ArcadiaClient = createArcadiaClient({
    url: router.url,
    wsUrl: sockets.url,
    webSocketImpl: WebSocket,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 100 },
  });
  cleanup.push(
    () => router.close(),
    () => sockets.close(),
    () => client.close(),
  );
  await client.session.signIn('nova@example.com', 'correct horse battery');
  return { router, sockets, client };
}

describe('subscriptions', () => {
  it('yield each event, with the token in connection_init, and unsubscribe on break', async () => {
    const { sockets, client } = await setup();
    const states: string[] = [];
    client.on('connection', (e) => states.push(e.state));
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    const [live] = await sockets.live();
    expect(live!.payload.variables).toEqual({ id: 'i1' });
    expect(live!.payload.query).toContain('subscription ImageUpdated');
    expect(sockets.inits).toEqual(['Bearer access-1']);
    sockets.next(live!, { data: image('PROCESSING') });
    sockets.next(live!, { data: image('READY') });
    const seen: string[] = [];
    for await (const { imageUpdated } of events) {
      seen.push(imageUpdated.status);
      if (imageUpdated.status === 'READY') break;
    }
    expect(seen).toEqual(['PROCESSING', 'READY']);
    await sockets.until('the client to complete', () =>
      sockets.completedByClient.includes(live!.id),
    );
    expect(states.slice(0, 2)).toEqual(['connecting', 'connected']);
  });

  it('resubscribe after a dropped socket', async () => {
    const { sockets, client } = await setup();
    const states: string[] = [];
    client.on('connection', (e) => states.push(e.state));
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    await sockets.live();
    sockets.closeAll('terminate');
    await sockets.until('a second connection', () => sockets.inits.length === 2);
    const [second] = await sockets.live();
    expect(second!.payload.variables).toEqual({ id: 'i1' });
    sockets.next(second!, { data: image('READY') });
    const { value } = await events.next();
    expect(value?.imageUpdated.status).toBe('READY');
    expect(states).toContain('reconnecting');
    await events.return?.();
  });

  it('refresh the session and reconnect with the new token on 4401 "Token expired"', async () => {
    const { router, sockets, client } = await setup();
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    await sockets.live();
    router.expireAccessTokens();
    sockets.closeAll(4401, 'Token expired');
    await sockets.until('a reconnection', () => sockets.inits.length === 2);
    expect(sockets.inits).toEqual(['Bearer access-1', 'Bearer access-2']);
    expect(router.calls('RefreshSession')).toBe(1);
    const [live] = await sockets.live();
    sockets.next(live!, { data: image('READY') });
    expect((await events.next()).value?.imageUpdated.status).toBe('READY');
    await events.return?.();
  });

  it('end with UNAUTHENTICATED SESSION_REVOKED and sign out on 4401 "Session revoked"', async () => {
    const { router, sockets, client } = await setup();
    const signedOut: unknown[] = [];
    client.on('signedOut', (e) => signedOut.push(e));
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    await sockets.live();
    sockets.closeAll(4401, 'Session revoked');
    const error = await events.next().catch((e: unknown) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
    if (isArcadiaError(error, 'UNAUTHENTICATED'))
      expect(error.first.reason).toBe('SESSION_REVOKED');
    expect(signedOut).toEqual([{ reason: 'SESSION_REVOKED' }]);
    expect(await client.session.current()).toBeNull();
    expect(router.calls('RefreshSession')).toBe(0);
    expect(await events.next()).toEqual({ value: undefined, done: true });
  });

  it('give up after one refresh when the new token is refused as well', async () => {
    const { sockets, client } = await setup((authorization) =>
      authorization ? 'The access token has expired.' : undefined,
    );
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    const error = await events.next().catch((e: unknown) => e);
    expect(isArcadiaError(error, 'UNAUTHENTICATED')).toBe(true);
    expect(sockets.inits).toEqual(['Bearer access-1', 'Bearer access-2']);
  });

  it('end with ArcadiaError on a GraphQL error', async () => {
    const { sockets, client } = await setup();
    const events = client.subscribe(ImageUpdatedDocument, { id: 'nope' });
    const [live] = await sockets.live();
    sockets.error(live!, [{ message: 'No such image.', extensions: { code: 'NOT_FOUND' } }]);
    const error = await events.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArcadiaError);
    expect((error as ArcadiaError).code).toBe('NOT_FOUND');
  });

  it('end with ArcadiaError on an event whose root field is an error, and deliver partial ones', async () => {
    const { sockets, client } = await setup();
    const events = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    const [live] = await sockets.live();
    sockets.next(live!, {
      data: image('READY'),
      errors: [
        { message: 'Gone.', path: ['imageUpdated', 'owner'], extensions: { code: 'NOT_FOUND' } },
      ],
    });
    sockets.next(live!, {
      data: null,
      errors: [
        { message: 'Down.', extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: 'media' } },
      ],
    });
    expect((await events.next()).value?.imageUpdated.status).toBe('READY');
    const error = await events.next().catch((e: unknown) => e);
    expect(isArcadiaError(error, 'SERVICE_UNAVAILABLE')).toBe(true);
  });

  it('end when the router completes, but resubscribe when it completes as it shuts down', async () => {
    const { sockets, client } = await setup();
    const ending = client.subscribe(ImageUpdatedDocument, { id: 'i1' });
    const [first] = await sockets.live();
    sockets.complete(first!);
    expect(await ending.next()).toEqual({ value: undefined, done: true });

    const surviving = client.subscribe(ImageUpdatedDocument, { id: 'i2' });
    const [second] = await sockets.live();
    const connectionsBefore = sockets.inits.length;
    sockets.complete(second!);
    sockets.closeAll(1001, 'Going away');
    await sockets.until('a resubscription', () => sockets.inits.length > connectionsBefore);
    const [third] = await sockets.live();
    expect(third!.payload.variables).toEqual({ id: 'i2' });
    sockets.next(third!, { data: image('READY') });
    expect((await surviving.next()).value?.imageUpdated.status).toBe('READY');
    await surviving.return?.();
  });

  it('end with ArcadiaNetworkError when the socket cannot be reached and retries are off', async () => {
    const router = await startRouterDouble();
    cleanup.push(() => router.close());
    const client = createArcadiaClient({
      url: router.url,
      wsUrl: 'ws://127.0.0.1:1/graphql',
      webSocketImpl: WebSocket,
      retry: false,
    });
    cleanup.push(() => client.close());
    const error = await client
      .subscribe(ImageUpdatedDocument, { id: 'i1' })
      .next()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArcadiaNetworkError);
  });
});
