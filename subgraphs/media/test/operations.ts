/** Operations and helpers the media tests (and the media worker's) share. */
import { expect } from 'vitest';
import type { GraphQLResponse, MediaHarness, TestUser } from './harness.js';

export const IMAGE_FIELDS = `id status contentType width height bytes placeholder failureReason createdAt updatedAt
  owner { id handle } url variants { name width height format bytes url }`;

export const CREATE_UPLOAD = `mutation ($input: CreateImageUploadInput!) {
  createImageUpload(input: $input) { uploadId uploadUrl method headers expiresAt image { ${IMAGE_FIELDS} } } }`;
export const COMPLETE_UPLOAD = `mutation ($id: ID!) { completeImageUpload(uploadId: $id) { ${IMAGE_FIELDS} } }`;
export const IMAGE = `query ($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`;
export const DELETE_IMAGE = 'mutation ($id: ID!) { deleteImage(id: $id) }';
export const SET_AVATAR = `mutation ($id: ID!) { setAvatar(imageId: $id) { id handle avatar { id url(variant: THUMBNAIL) } } }`;
export const REPROCESS = `mutation ($id: ID!) { reprocessImage(id: $id) { ${IMAGE_FIELDS} } }`;
export const IMAGE_UPDATED = `subscription ($id: ID!) { imageUpdated(id: $id) { ${IMAGE_FIELDS} } }`;

/** An image as the tests ask for it. */
export interface ImageData {
  id: string;
  status: 'AWAITING_UPLOAD' | 'PROCESSING' | 'READY' | 'FAILED';
  contentType: string;
  width: number | null;
  height: number | null;
  bytes: number | null;
  placeholder: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  owner: { id: string; handle: string };
  url: string | null;
  variants: {
    name: string;
    width: number;
    height: number;
    format: string;
    bytes: number;
    url: string;
  }[];
}

/** An ImageUpload as the tests ask for it. */
export interface UploadData {
  uploadId: string;
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  expiresAt: string;
  image: ImageData;
}

/** The data of a response that must have succeeded. */
export function ok<T>(response: GraphQLResponse<T>): T {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return response.data!;
}

/** The single error of a response that must have failed. */
export function failure(response: GraphQLResponse) {
  expect(response.errors, 'expected an error').toBeDefined();
  return response.errors![0]!;
}

/** Starts an upload for `user`. */
export async function createUpload(
  h: MediaHarness,
  user: TestUser,
  input: { filename?: string; contentType?: string; byteSize: number },
): Promise<UploadData> {
  const { createImageUpload } = ok(
    await h.request<{ createImageUpload: UploadData }>(CREATE_UPLOAD, {
      token: user.token,
      variables: {
        input: { filename: 'photo.jpg', contentType: 'image/jpeg', ...input },
      },
    }),
  );
  return createImageUpload;
}

/** PUTs `body` to a presigned upload as a client would (fetch, the returned headers). */
export async function putUpload(upload: UploadData, body: Buffer): Promise<number> {
  const res = await fetch(upload.uploadUrl, {
    method: upload.method,
    headers: upload.headers,
    body: new Uint8Array(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** completeImageUpload as `user`, the raw response. */
export function complete(h: MediaHarness, user: TestUser, uploadId: string) {
  return h.request<{ completeImageUpload: ImageData }>(COMPLETE_UPLOAD, {
    token: user.token,
    variables: { id: uploadId },
  });
}

/** Create, PUT and complete: the whole client side of an upload. */
export async function upload(
  h: MediaHarness,
  user: TestUser,
  body: Buffer,
  contentType = 'image/jpeg',
  filename = 'photo.jpg',
): Promise<ImageData> {
  const created = await createUpload(h, user, { filename, contentType, byteSize: body.length });
  expect(await putUpload(created, body)).toBe(200);
  return ok(await complete(h, user, created.uploadId)).completeImageUpload;
}

/** The image as `user` (or anonymous) sees it; null when not visible. */
export async function image(h: MediaHarness, id: string, user?: TestUser | null) {
  return ok(
    await h.request<{ image: ImageData | null }>(IMAGE, { token: user?.token, variables: { id } }),
  ).image;
}

export { eventually } from '@arcadia/testing';

/** Jobs of the harness' media queue that are not finished. */
export async function pendingJobs(h: MediaHarness) {
  return h.queue.queue.getJobs(['wait', 'active', 'delayed', 'prioritized']);
}
