import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import {
  failure,
  ok,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import {
  complete,
  createUpload,
  CREATE_UPLOAD,
  DELETE_IMAGE,
  image,
  IMAGE_UPDATED,
  mediaSubgraph,
  putUpload,
  REPROCESS,
  SET_AVATAR,
  upload,
  type ImageData,
  type MediaUnderTest,
} from '../src/testing.js';

// A small maximum so oversized files stay small; the default (20 MiB) is in env.test.ts.
const MAX = 100_000;
let h: SubgraphHarness<MediaUnderTest>;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  h = await startSubgraphHarness({
    subject: mediaSubgraph({ MEDIA_MAX_UPLOAD_BYTES: String(MAX) }),
    peers: [accountsSubgraph()],
  });
  [alice, bob] = await Promise.all([h.signUp(), h.signUp()]);
});
afterAll(() => h?.stop());

const bytes = (n: number) => Buffer.alloc(n, 7);
const jobsOf = async (imageId: string) =>
  (await h.subject.pendingJobs()).filter((j) => j.data.imageId === imageId);
const countImages = async () =>
  Number((await h.subject.db.query('select count(*) as n from images'))[0]!.n);

/** Marks an image READY with one variant, as the worker would (this file runs no worker). */
async function markReady(id: string) {
  const variants = [
    {
      name: 'LARGE',
      width: 10,
      height: 10,
      format: 'webp',
      bytes: 10,
      key: `images/${id}/large-00.webp`,
    },
  ];
  await h.subject.db.query(
    `update images set status = 'READY', processed_version = version, width = 10, height = 10,
     placeholder = '#123456', variants = $2::jsonb where id = $1`,
    [id, JSON.stringify(variants)],
  );
}

describe('creating an upload', () => {
  it('returns a presigned PUT bound to the content type that expires in 15 minutes', async () => {
    const before = Date.now();
    const created = await createUpload(h, alice, { contentType: 'image/png', byteSize: 1234 });
    expect(created.method).toBe('PUT');
    expect(created.headers).toEqual({ 'Content-Type': 'image/png' });
    expect(created.uploadId).toBe(created.image.id);
    const url = new URL(created.uploadUrl);
    expect(url.pathname).toBe(
      `/${h.subject.config.S3_ORIGINALS_BUCKET}/originals/${alice.id}/${created.uploadId}`,
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    const expiresIn = new Date(created.expiresAt).getTime() - before;
    expect(expiresIn).toBeGreaterThan(899_000);
    expect(expiresIn).toBeLessThan(902_000);
    expect(created.image).toMatchObject({
      status: 'AWAITING_UPLOAD',
      contentType: 'image/png',
      owner: { id: alice.id, handle: alice.handle },
      url: null,
      variants: [],
      bytes: null,
    });
  });

  it('refuses a type that is not an image with UNSUPPORTED_MEDIA_TYPE and writes nothing', async () => {
    const before = await countImages();
    for (const contentType of ['text/plain', 'image/svg+xml', 'application/pdf']) {
      const response = await h.request(CREATE_UPLOAD, {
        token: alice.token,
        variables: { input: { filename: 'x.jpg', contentType, byteSize: 10 } },
      });
      expect(failure(response).extensions).toMatchObject({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        field: 'contentType',
      });
    }
    expect(await countImages()).toBe(before);
  });

  it('refuses a declared size over the maximum with PAYLOAD_TOO_LARGE and writes nothing', async () => {
    const before = await countImages();
    const response = await h.request(CREATE_UPLOAD, {
      token: alice.token,
      variables: { input: { filename: 'big.jpg', contentType: 'image/jpeg', byteSize: MAX + 1 } },
    });
    expect(failure(response).extensions).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      maxBytes: MAX,
    });
    expect(await countImages()).toBe(before);
  });

  it.each([
    ['filename', { filename: '' }],
    ['filename', { filename: 'bell\u0007.jpg' }],
    // Shows as `abcexe.png`.
    ['filename', { filename: 'abc\u202egnp.exe' }],
    ['filename', { filename: 'photo\u2067.jpg' }],
    ['filename', { filename: '\u200b\u200d' }],
    ['byteSize', { byteSize: 0 }],
  ])('refuses an invalid %s with BAD_USER_INPUT', async (field, override) => {
    const response = await h.request(CREATE_UPLOAD, {
      token: alice.token,
      variables: {
        input: { filename: 'a.jpg', contentType: 'image/jpeg', byteSize: 10, ...override },
      },
    });
    expect(failure(response).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('asks an anonymous caller to sign in', async () => {
    const response = await h.request(CREATE_UPLOAD, {
      variables: { input: { filename: 'a.jpg', contentType: 'image/jpeg', byteSize: 10 } },
    });
    expect(failure(response).extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('completing an upload', () => {
  it('says BAD_USER_INPUT when nothing was uploaded, and leaves the image waiting', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    const error = failure(await complete(h, alice, created.uploadId));
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'uploadId' });
    expect((await image(h, created.uploadId, alice))?.status).toBe('AWAITING_UPLOAD');
  });

  it('answers NOT_FOUND for an unknown or malformed upload id', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      const error = failure(await complete(h, alice, id));
      expect(error.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'uploadId' });
    }
  });

  it("answers NOT_FOUND for someone else's upload, exactly as for an unknown one, and changes nothing", async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    expect(await putUpload(created, bytes(10))).toBe(200);
    const theirs = failure(await complete(h, bob, created.uploadId));
    const unknown = failure(await complete(h, bob, '00000000-0000-4000-8000-000000000000'));
    expect(theirs.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.message).toBe(unknown.message);
    expect((await image(h, created.uploadId, alice))?.status).toBe('AWAITING_UPLOAD');
    expect(await jobsOf(created.uploadId)).toHaveLength(0);
  });

  it('deletes a file larger than the maximum and answers PAYLOAD_TOO_LARGE', async () => {
    const created = await createUpload(h, alice, { byteSize: 1000 });
    // s3rver does not check that the PUT matches the declared size; real S3 would not either unsigned.
    expect(await putUpload(created, bytes(MAX + 1))).toBe(200);
    const key = `originals/${alice.id}/${created.uploadId}`;
    expect(await h.subject.originalExists(key)).toBe(true);
    const error = failure(await complete(h, alice, created.uploadId));
    expect(error.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', maxBytes: MAX });
    expect(await h.subject.originalExists(key)).toBe(false);
    expect((await image(h, created.uploadId, alice))?.status).toBe('AWAITING_UPLOAD');
  });

  it('makes the image PROCESSING and queues one job, however often it is called', async () => {
    const body = bytes(500);
    const first = await upload(h, alice, body);
    expect(first).toMatchObject({ status: 'PROCESSING', bytes: 500 });
    const again = await Promise.all([complete(h, alice, first.id), complete(h, alice, first.id)]);
    for (const response of again) {
      expect(ok(response).completeImageUpload).toMatchObject({
        id: first.id,
        status: 'PROCESSING',
      });
    }
    const jobs = await jobsOf(first.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).toEqual({ imageId: first.id, reason: 'upload', version: 1 });
    expect(jobs[0]!.id).toBe(`image-${first.id}-v1`);
  });
});

describe('who sees an image', () => {
  it('shows an unprocessed image to its owner only, and a READY one to anyone with the id', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    const id = created.uploadId;
    expect(await image(h, id, alice)).not.toBeNull();
    expect(await image(h, id, bob)).toBeNull();
    expect(await image(h, id, null)).toBeNull();

    await markReady(id);
    const seen = await image(h, id, null);
    expect(seen).toMatchObject({ id, status: 'READY', owner: { handle: alice.handle } });
    expect(seen!.url).toBe(
      `${h.subject.config.S3_ENDPOINT}/${h.subject.config.S3_PROCESSED_BUCKET}/images/${id}/large-00.webp`,
    );
    expect(seen!.variants.map((v) => v.url)).toEqual([seen!.url]);
    expect(await image(h, id, bob)).toMatchObject({ id, placeholder: '#123456' });
  });

  it('shows the failure reason to the owner only', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    await h.subject.db.query(
      `update images set status = 'FAILED', failure_reason = 'broken' where id = $1`,
      [created.uploadId],
    );
    expect((await image(h, created.uploadId, alice))?.failureReason).toBe('broken');
    expect(await image(h, created.uploadId, bob)).toBeNull();
  });

  it('lets only the owner watch an image that is not READY', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    const operation = { query: IMAGE_UPDATED, variables: { id: created.uploadId } };
    // Refused: the positive signal is the error itself.
    const intruder = await h.subscribe<{ imageUpdated: ImageData }>(bob, operation, {
      live: (s) => s.errors.length > 0,
    });
    const refused = intruder.errors[0] as any;
    const code = Array.isArray(refused)
      ? refused[0]?.extensions?.code
      : (refused.extensions?.code ?? refused.message);
    expect(code).toBe('NOT_FOUND');

    // The owner's subscription is registered once its Redis channel has a subscriber.
    const owner = await h.subscribe<{ imageUpdated: ImageData }>(alice, operation, {
      live: async () => (await h.subscribers(h.subject.imageChannel(created.uploadId))) > 0,
    });
    expect(await putUpload(created, bytes(10))).toBe(200);
    ok(await complete(h, alice, created.uploadId));
    const { imageUpdated: event } = await owner.waitFor(() => true, 'the PROCESSING event');
    expect(event).toMatchObject({ id: created.uploadId, status: 'PROCESSING' });
    expect(event.owner.handle).toBe(alice.handle);
  });
});

describe('avatars', () => {
  it('makes a READY image the avatar that accounts users carry', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    const notReady = failure(
      await h.request(SET_AVATAR, { token: alice.token, variables: { id: created.uploadId } }),
    );
    expect(notReady.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'imageId' });

    await markReady(created.uploadId);
    const theirs = failure(
      await h.request(SET_AVATAR, { token: bob.token, variables: { id: created.uploadId } }),
    );
    expect(theirs.extensions?.code).toBe('NOT_FOUND');

    const { setAvatar } = ok(
      await h.request(SET_AVATAR, { token: alice.token, variables: { id: created.uploadId } }),
    );
    expect(setAvatar).toMatchObject({
      id: alice.id,
      handle: alice.handle,
      avatar: { id: created.uploadId, url: null },
    });
    const { user } = ok(
      await h.request(`query ($id: ID!) { user(id: $id) { handle avatar { id status } } }`, {
        variables: { id: alice.id },
      }),
    );
    expect(user).toEqual({
      handle: alice.handle,
      avatar: { id: created.uploadId, status: 'READY' },
    });
  });
});

describe('deleting an image', () => {
  it("refuses someone else's image with NOT_FOUND", async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    const error = failure(
      await h.request(DELETE_IMAGE, { token: bob.token, variables: { id: created.uploadId } }),
    );
    expect(error.extensions?.code).toBe('NOT_FOUND');
    expect(await image(h, created.uploadId, alice)).not.toBeNull();
  });

  it('removes the row, the original and the avatar that showed it', async () => {
    const created = await createUpload(h, alice, { byteSize: 10 });
    expect(await putUpload(created, bytes(10))).toBe(200);
    await markReady(created.uploadId);
    ok(await h.request(SET_AVATAR, { token: alice.token, variables: { id: created.uploadId } }));
    const { deleteImage } = ok(
      await h.request(DELETE_IMAGE, { token: alice.token, variables: { id: created.uploadId } }),
    );
    expect(deleteImage).toBe(true);
    expect(await image(h, created.uploadId, alice)).toBeNull();
    expect(await h.subject.originalExists(`originals/${alice.id}/${created.uploadId}`)).toBe(false);
    const { user } = ok(
      await h.request(`query ($id: ID!) { user(id: $id) { avatar { id } } }`, {
        variables: { id: alice.id },
      }),
    );
    expect(user.avatar).toBeNull();
  });
});

describe('reprocessing', () => {
  it('is for ADMINs, and queues the next version while a READY image stays visible', async () => {
    const admin = await h.signUp({ admin: true });
    const created = await createUpload(h, alice, { byteSize: 10 });
    await markReady(created.uploadId);

    const refused = failure(
      await h.request(REPROCESS, { token: alice.token, variables: { id: created.uploadId } }),
    );
    expect(refused.extensions?.code).toBe('FORBIDDEN');

    const { reprocessImage } = ok(
      await h.request(REPROCESS, { token: admin.token, variables: { id: created.uploadId } }),
    );
    expect(reprocessImage.status).toBe('READY');
    expect(await image(h, created.uploadId, bob)).not.toBeNull();
    const jobs = await jobsOf(created.uploadId);
    expect(jobs.map((j) => j.data)).toEqual([
      { imageId: created.uploadId, reason: 'reprocess', version: 2 },
    ]);
  });
});
