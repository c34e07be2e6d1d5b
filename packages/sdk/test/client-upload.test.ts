/**
 * uploadImage against doubles of the router (HTTP and graphql-ws) and of
 * the object store's presigned PUT: the bytes go with exactly the given
 * headers and a known length, progress is reported, imageUpdated is
 * subscribed before completing, and READY / FAILED end it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createArcadiaClient, isArcadiaError, type ArcadiaClient } from '../src/index.js';
import { startRouterDouble } from './router-double.js';
import { startSocketDouble } from './socket-double.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const details = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'i1',
  status,
  contentType: 'image/png',
  width: null,
  height: null,
  bytes: null,
  placeholder: null,
  failureReason: null,
  variants: [],
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  ...extra,
});

/** The object store's side: records each PUT. */
async function startStore() {
  const puts: Array<{ method: string; headers: IncomingHttpHeaders; bytes: number }> = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      puts.push({ method: req.method!, headers: req.headers, bytes });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket/i1?X-Amz-Signature=x`,
    puts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function setup(completeAs: string) {
  const router = await startRouterDouble();
  const sockets = await startSocketDouble();
  const store = await startStore();
  const seenAtComplete: number[] = [];
  router.resolvers.CreateImageUpload = (v) => ({
    createImageUpload: {
      uploadId: 'i1',
      uploadUrl: store.url,
      method: 'PUT',
      headers: { 'Content-Type': (v.input as { contentType: string }).contentType },
      expiresAt: new Date(Date.now() + 900_000).toISOString(),
      image: details('AWAITING_UPLOAD'),
    },
  });
  router.resolvers.CompleteImageUpload = () => {
    seenAtComplete.push(
      [...sockets.subscriptions.values()].filter((s) => s.payload.variables?.id === 'i1').length,
    );
    return {
      completeImageUpload: details(completeAs, {
        ...(completeAs === 'FAILED' ? { failureReason: 'Not an image.' } : {}),
      }),
    };
  };
  const client: ArcadiaClient = createArcadiaClient({
    url: router.url,
    wsUrl: sockets.url,
    webSocketImpl: WebSocket,
  });
  cleanup.push(
    () => router.close(),
    () => sockets.close(),
    () => store.close(),
    () => client.close(),
  );
  await client.session.signIn('nova@example.com', 'correct horse battery');
  return { router, sockets, store, client, seenAtComplete };
}

const png = new Uint8Array(200 * 1024).fill(7);

describe('uploadImage', () => {
  it('puts the bytes with the given headers, subscribes before completing, and resolves READY', async () => {
    const { router, sockets, store, client, seenAtComplete } = await setup('PROCESSING');
    const progress: Array<{ loaded: number; total: number }> = [];
    const uploading = client.uploadImage(png, {
      contentType: 'image/png',
      onProgress: (p) => progress.push(p),
    });
    const [live] = await sockets.live();
    await sockets.until('completeImageUpload', () => seenAtComplete.length === 1);
    sockets.next(live!, { data: { imageUpdated: details('READY', { width: 10 }) } });
    const image = await uploading;
    expect(image.status).toBe('READY');
    expect(seenAtComplete).toEqual([1]);
    expect(store.puts).toHaveLength(1);
    expect(store.puts[0]!.method).toBe('PUT');
    expect(store.puts[0]!.headers['content-type']).toBe('image/png');
    expect(store.puts[0]!.headers['content-length']).toBe(String(png.byteLength));
    expect(store.puts[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(store.puts[0]!.bytes).toBe(png.byteLength);
    expect(progress[0]).toEqual({ loaded: 0, total: png.byteLength });
    expect(progress.at(-1)).toEqual({ loaded: png.byteLength, total: png.byteLength });
    expect(progress.length).toBeGreaterThan(3);
    const create = router.received.find((r) => r.body.operationName === 'CreateImageUpload');
    expect(create!.body.variables).toEqual({
      input: { filename: 'upload', contentType: 'image/png', byteSize: png.byteLength },
    });
    await sockets.until('the subscription to end', () => sockets.subscriptions.size === 0);
  });

  it('takes the type and name of a Blob', async () => {
    const { router, client } = await setup('READY');
    const file = new File([png], 'avatar.webp', { type: 'image/webp' });
    await client.uploadImage(file);
    const create = router.received.find((r) => r.body.operationName === 'CreateImageUpload');
    expect(create!.body.variables).toMatchObject({
      input: { filename: 'avatar.webp', contentType: 'image/webp' },
    });
  });

  it('throws IMAGE_FAILED with the failure reason when the image fails', async () => {
    const { client } = await setup('FAILED');
    const error = await client
      .uploadImage(png, { contentType: 'image/png' })
      .catch((e: unknown) => e);
    expect(isArcadiaError(error, 'IMAGE_FAILED')).toBe(true);
    expect((error as Error).message).toBe('Not an image.');
  });

  it('finds the outcome by polling image(id) when no event arrives', async () => {
    const { router, client } = await setup('PROCESSING');
    router.resolvers.Image = () => ({ image: details('READY') });
    const image = await client.uploadImage(png, { contentType: 'image/png' });
    expect(image.status).toBe('READY');
    expect(router.calls('Image')).toBeGreaterThanOrEqual(1);
  });

  it('refuses bytes without a content type', async () => {
    const { client } = await setup('READY');
    await expect(client.uploadImage(png)).rejects.toThrow(/contentType/);
  });
});
