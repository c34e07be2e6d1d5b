import sharp from 'sharp';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { VARIANT_CACHE_CONTROL } from '@arcadia/media/domain';
import {
  complete,
  createUpload,
  DELETE_IMAGE,
  image,
  IMAGE_UPDATED,
  mediaSubgraph,
  putUpload,
  REPROCESS,
  upload,
  type ImageData,
  type MediaUnderTest,
} from '@arcadia/media/testing';
import {
  eventually,
  ok,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import type { MediaWorker } from '../src/run.js';
import {
  GPS_MARKER,
  jpeg,
  pixelBombPng,
  rotatedJpegWithGps,
  TEXT_AS_JPEG,
  transparentPng,
  webp,
} from './fixtures.js';
import { startWorker } from './worker-harness.js';

let h: SubgraphHarness<MediaUnderTest>;
let worker: MediaWorker;
let alice: TestUser;
let bob: TestUser;
let ws: Client;

beforeAll(async () => {
  h = await startSubgraphHarness({ subject: mediaSubgraph(), peers: [accountsSubgraph()] });
  worker = startWorker(h.subject);
  [alice, bob] = await Promise.all([h.signUp(), h.signUp()]);
  ws = h.connect(alice);
});
afterAll(async () => {
  // The worker uses the harness' stores: it stops first.
  await worker?.close();
  await h?.stop();
});

/** Subscribers of an image's channel: an `imageUpdated(id)` is live once there is one. */
const watchers = async (id: string) => h.subscribers(h.subject.imageChannel(id));

/** Subscribes to `imageUpdated(id)` as alice (on one socket) and waits until the subscription is live. */
async function watch(id: string) {
  return h.subscribe<{ imageUpdated: ImageData }>(
    alice,
    { query: IMAGE_UPDATED, variables: { id } },
    { client: ws, live: async () => (await watchers(id)) > 0 },
  );
}

/** Uploads as alice, watching the image, and waits for READY or FAILED. */
async function process(body: Buffer, contentType: string, filename = 'photo') {
  const created = await createUpload(h, alice, { filename, contentType, byteSize: body.length });
  const watching = await watch(created.uploadId);
  expect(await putUpload(created, body)).toBe(200);
  ok(await complete(h, alice, created.uploadId));
  const { imageUpdated: settled } = await watching.waitFor(
    (e) => e.imageUpdated.status === 'READY' || e.imageUpdated.status === 'FAILED',
    'READY or FAILED',
  );
  watching.unsubscribe();
  const events = watching.events.map((e) => e.imageUpdated);
  return { id: created.uploadId, events, settled };
}

/** Every variant object of an image, read back from the processed bucket. */
async function storedVariants(id: string) {
  const keys = await h.subject.storage.listVariants(id);
  return Promise.all(
    keys.map(async (key) => ({ key, object: (await h.subject.getVariantObject(key))! })),
  );
}

describe('an upload through the router and the worker', () => {
  it.each([
    [
      'a JPEG photo',
      () => jpeg(2400, 1600),
      'image/jpeg',
      [2400, 1600],
      { MEDIUM: [800, 533], LARGE: [1920, 1280] },
    ],
    [
      'a WebP photo',
      () => webp(1000, 1500),
      'image/webp',
      [1000, 1500],
      { MEDIUM: [533, 800], LARGE: [1000, 1500] },
    ],
    [
      'a PNG with transparency',
      () => transparentPng(500, 300),
      'image/png',
      [500, 300],
      { MEDIUM: [500, 300], LARGE: [500, 300] },
    ],
  ])(
    'turns %s into three WebP variants, READY for the subscriber',
    async (_name, make, type, size, expected) => {
      const { id, events, settled } = await process(await make(), type);
      expect(events.map((e) => e.status)).toEqual(['PROCESSING', 'READY']);
      expect(settled).toMatchObject({ id, contentType: type, width: size[0], height: size[1] });
      expect(settled.placeholder).toMatch(/^#[0-9a-f]{6}$/);
      expect(
        Object.fromEntries(settled.variants.map((v) => [v.name, [v.width, v.height]])),
      ).toEqual({
        THUMBNAIL: [100, 100],
        ...expected,
      });
      expect(settled.url).toBe(settled.variants.find((v) => v.name === 'LARGE')!.url);

      const stored = await storedVariants(id);
      expect(stored).toHaveLength(3);
      for (const variant of settled.variants) {
        const { object } = stored.find((s) => variant.url.endsWith(s.key))!;
        expect(object.contentType).toBe('image/webp');
        expect(object.cacheControl).toBe(VARIANT_CACHE_CONTROL);
        expect(object.body.length).toBe(variant.bytes);
        const meta = await sharp(object.body).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual([
          'webp',
          variant.width,
          variant.height,
        ]);
        if (type === 'image/png') expect(meta.hasAlpha).toBe(true);
      }
      // The public URL serves the bytes as they are stored.
      const served = await fetch(settled.url!);
      expect(served.status).toBe(200);
      expect(Buffer.from(await served.arrayBuffer()).length).toBe(
        settled.variants.find((v) => v.name === 'LARGE')!.bytes,
      );
    },
  );

  it('turns an EXIF-rotated JPEG upright, records its displayed size and drops its GPS data', async () => {
    const original = await rotatedJpegWithGps(1200, 800);
    const { settled, id } = await process(original, 'image/jpeg');
    expect(settled).toMatchObject({ status: 'READY', width: 800, height: 1200 });
    expect(settled.variants.find((v) => v.name === 'LARGE')).toMatchObject({
      width: 800,
      height: 1200,
    });
    for (const { object } of await storedVariants(id)) {
      const meta = await sharp(object.body).metadata();
      expect(meta.exif).toBeUndefined();
      expect(object.body.includes(GPS_MARKER)).toBe(false);
    }
  });

  it('keys variants by their content, so the URLs are safe to cache for a year', async () => {
    const { settled, id } = await process(await jpeg(640, 480), 'image/jpeg');
    for (const variant of settled.variants) {
      expect(variant.url).toMatch(
        new RegExp(`/images/${id}/${variant.name.toLowerCase()}-[0-9a-f]{16}\\.webp$`),
      );
    }
  });

  it('answers a second completion with the READY image and queues nothing more', async () => {
    const { id } = await process(await jpeg(300, 300), 'image/jpeg');
    const again = ok(await complete(h, alice, id)).completeImageUpload;
    expect(again.status).toBe('READY');
    expect(await h.subject.queue.queue.getJobCountByTypes('wait', 'delayed', 'active')).toBe(0);
    expect(await storedVariants(id)).toHaveLength(3);
  });

  it('shows a READY image to everyone, and its owner through accounts', async () => {
    const { id } = await process(await jpeg(200, 200), 'image/jpeg');
    expect(await image(h, id, bob)).toMatchObject({
      status: 'READY',
      owner: { handle: alice.handle },
    });
    expect(await image(h, id, null)).toMatchObject({ status: 'READY' });
  });
});

describe('files that cannot be processed', () => {
  it('fails text named .jpg with a reason, once, and writes no variant', async () => {
    const { id, settled } = await process(TEXT_AS_JPEG, 'image/jpeg', 'photo.jpg');
    expect(settled.status).toBe('FAILED');
    expect(settled.failureReason).toMatch(/not an image in a supported format/);
    expect(settled.variants).toEqual([]);
    expect(await storedVariants(id)).toEqual([]);
    const job = await h.subject.queue.queue.getJob(`image-${id}-v1`);
    expect(job?.attemptsMade).toBe(1);
    expect(await image(h, id, bob)).toBeNull();
  });

  it('fails a decompression bomb (a tiny PNG declaring 30000×30000) with a reason', async () => {
    const { settled } = await process(pixelBombPng(), 'image/png', 'bomb.png');
    expect(settled.status).toBe('FAILED');
    expect(settled.failureReason).toMatch(/30000×30000 pixels/);
  });
});

describe('after processing', () => {
  it('deletes the original and every variant with the image', async () => {
    const { id } = await process(await jpeg(400, 300), 'image/jpeg');
    expect(await storedVariants(id)).toHaveLength(3);
    ok(await h.request(DELETE_IMAGE, { token: alice.token, variables: { id } }));
    expect(await storedVariants(id)).toEqual([]);
    expect(await h.subject.originalExists(`originals/${alice.id}/${id}`)).toBe(false);
  });

  it('reprocesses for an ADMIN, keeping the image READY and its objects unduplicated', async () => {
    const admin = await h.signUp({ admin: true });
    const { id, settled } = await process(await jpeg(500, 400), 'image/jpeg');
    // Anyone may watch a READY image: bob (not the owner) sees the new READY.
    // Alice's subscription of the upload has ended once the channel has no subscriber.
    await eventually(async () => (await watchers(id)) === 0, {
      what: "alice's subscription of the upload ending",
    });
    const bobWatching = await h.subscribe<{ imageUpdated: ImageData }>(
      bob,
      { query: IMAGE_UPDATED, variables: { id } },
      { live: async () => (await watchers(id)) > 0 },
    );
    const { reprocessImage } = ok(
      await h.request(REPROCESS, { token: admin.token, variables: { id } }),
    );
    expect(reprocessImage.status).toBe('READY');
    const { imageUpdated: redone } = await bobWatching.waitFor(
      (e) => e.imageUpdated.status === 'READY',
      'the new READY',
    );
    bobWatching.unsubscribe();
    expect(redone).toMatchObject({ id, failureReason: null });
    // Same specs and bytes: the same content-addressed objects, nothing superseded or doubled.
    expect(redone.variants.map((v) => v.url)).toEqual(settled.variants.map((v) => v.url));
    expect(await storedVariants(id)).toHaveLength(3);
    const [row] = await h.subject.db.query(
      'select version, processed_version from images where id = $1',
      [id],
    );
    expect(row).toEqual({ version: 2, processed_version: 2 });
  });
});

describe('uploading with curl, as the README shows', () => {
  it('accepts the bytes PUT to the presigned URL with only the returned header', async () => {
    const body = await jpeg(120, 90);
    const created = await createUpload(h, alice, { byteSize: body.length });
    const res = await fetch(created.uploadUrl, {
      method: 'PUT',
      headers: { 'Content-Type': created.headers['Content-Type']! },
      body: new Uint8Array(body),
    });
    expect(res.status).toBe(200);
    expect((await upload(h, bob, body)).status).toBe('PROCESSING');
  });
});
