import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  CompleteImageUploadDocument,
  CreateImageUploadDocument,
  ImageDocument,
  ImageUpdatedDocument,
  type ImageDetailsFragment,
} from '../generated/graphql.js';
import { ArcadiaError, ArcadiaNetworkError, parseGraphQLError } from './errors.js';
import { sleep } from './retry.js';
import type { LiveSubscription } from './subscriptions.js';

/** Bytes sent so far of `total`. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

/** Options of `uploadImage`. */
export interface UploadImageOptions {
  /** The file's MIME type; default: the Blob's `type`. Required for a Uint8Array. */
  contentType?: string;
  /** The name the upload is recorded with; default: a File's `name`, else "upload". */
  filename?: string;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

/** What {@link uploadImage} uses of the client. */
export interface UploadDeps {
  request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    options?: { signal?: AbortSignal },
  ): Promise<TData>;
  subscribe<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): LiveSubscription<TData>;
  fetch: typeof fetch;
}

/** Chunk size of a streamed PUT: the granularity of progress reports in Node. */
const CHUNK_BYTES = 64 * 1024;
/** How long to wait for the imageUpdated socket before completing anyway (polling covers it). */
const SUBSCRIBE_WAIT_MS = 5000;
/** Polls of image(id) while waiting for imageUpdated: events are not replayed after a reconnection. */
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 10_000;

const isBlob = (file: unknown): file is Blob => typeof Blob !== 'undefined' && file instanceof Blob;

const sizeOf = (file: Blob | Uint8Array) => (isBlob(file) ? file.size : file.byteLength);

const settled = (image: ImageDetailsFragment) =>
  image.status === 'READY' || image.status === 'FAILED';

/** READY resolves; FAILED throws IMAGE_FAILED with the image as `data`. */
function outcome(image: ImageDetailsFragment): ImageDetailsFragment {
  if (image.status === 'READY') return image;
  throw new ArcadiaError(
    [
      parseGraphQLError({
        message: image.failureReason ?? 'The image could not be processed.',
        extensions: { code: 'IMAGE_FAILED' },
      }),
    ],
    { data: image },
  );
}

/** An AbortController that also aborts with `outer`. */
function linkedController(outer: AbortSignal | undefined) {
  const controller = new AbortController();
  const abort = () => controller.abort(outer?.reason);
  if (outer?.aborted) abort();
  else outer?.addEventListener('abort', abort, { once: true });
  return {
    controller,
    release: () => outer?.removeEventListener('abort', abort),
  };
}

/** The bytes of `file` as a stream of chunks that reports what has been pulled. */
function progressStream(
  file: Blob | Uint8Array,
  onPulled: (loaded: number) => void,
): ReadableStream<Uint8Array> {
  const total = sizeOf(file);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (offset >= total) {
        controller.close();
        return;
      }
      const end = Math.min(total, offset + CHUNK_BYTES);
      const chunk = isBlob(file)
        ? new Uint8Array(await file.slice(offset, end).arrayBuffer())
        : file.subarray(offset, end);
      offset = end;
      controller.enqueue(chunk);
      onPulled(offset);
    },
  });
}

/** PUT with XMLHttpRequest, whose `upload.onprogress` reports bytes on the wire (browsers). */
function putWithXhr(
  url: string,
  method: string,
  headers: Record<string, string>,
  file: Blob | Uint8Array,
  onProgress: (loaded: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(
            new ArcadiaNetworkError(`The upload was refused (HTTP ${xhr.status})`, {
              status: xhr.status,
            }),
          );
    xhr.onerror = () => reject(new ArcadiaNetworkError('The upload failed: network error'));
    xhr.onabort = () => reject((signal?.reason as Error) ?? new Error('The upload was aborted'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file as XMLHttpRequestBodyInit);
  });
}

/** PUT with fetch and a streamed body that reports bytes as they are pulled (Node). */
async function putWithFetch(
  fetchImpl: typeof fetch,
  url: string,
  method: string,
  headers: Record<string, string>,
  file: Blob | Uint8Array,
  onProgress: (loaded: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method,
      // A known length: object stores refuse chunked uploads to presigned URLs.
      headers: { ...headers, 'content-length': String(sizeOf(file)) },
      body: progressStream(file, onProgress),
      duplex: 'half',
      ...(signal ? { signal } : {}),
    } as RequestInit);
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new ArcadiaNetworkError(`The upload failed: ${String(cause)}`, { cause });
  }
  // Drained so the connection can be reused.
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new ArcadiaNetworkError(
      `The upload was refused (HTTP ${response.status})${text ? `: ${text.slice(0, 200)}` : ''}`,
      { status: response.status },
    );
  }
}

/**
 * Uploads an image: createImageUpload, subscribe to imageUpdated (before
 * completing, so READY cannot be missed), PUT the bytes to the presigned
 * URL with exactly its headers, completeImageUpload, then wait for READY
 * (resolves) or FAILED (throws ArcadiaError IMAGE_FAILED), polling
 * image(id) as well in case an event was lost with a socket.
 */
export async function uploadImage(
  deps: UploadDeps,
  file: Blob | Uint8Array,
  options: UploadImageOptions = {},
): Promise<ImageDetailsFragment> {
  const contentType = options.contentType ?? (isBlob(file) ? file.type : '');
  if (!contentType) {
    throw new TypeError('uploadImage needs options.contentType for a file without a type');
  }
  const total = sizeOf(file);
  const filename =
    options.filename ?? ((file as { name?: unknown }).name as string | undefined) ?? 'upload';
  const { signal, onProgress } = options;

  const { createImageUpload: upload } = await deps.request(
    CreateImageUploadDocument,
    { input: { filename, contentType, byteSize: total } },
    signal ? { signal } : {},
  );
  const updates = deps.subscribe(ImageUpdatedDocument, { id: upload.image.id });
  const { controller, release } = linkedController(signal);
  try {
    const headers = Object.fromEntries(
      Object.entries(upload.headers).map(([name, value]) => [name, String(value)]),
    );
    let last = -1;
    const report = (loaded: number) => {
      if (loaded === last) return;
      last = loaded;
      onProgress?.({ loaded, total });
    };
    report(0);
    if (typeof XMLHttpRequest !== 'undefined') {
      await putWithXhr(upload.uploadUrl, upload.method, headers, file, report, signal);
    } else {
      await putWithFetch(
        deps.fetch,
        upload.uploadUrl,
        upload.method,
        headers,
        file,
        report,
        signal,
      );
    }
    report(total);

    await Promise.race([updates.started, sleep(SUBSCRIBE_WAIT_MS, controller.signal)]);
    const { completeImageUpload: completed } = await deps.request(
      CompleteImageUploadDocument,
      { uploadId: upload.uploadId },
      signal ? { signal } : {},
    );
    if (settled(completed)) return outcome(completed);

    const viaEvents = async (): Promise<ImageDetailsFragment> => {
      try {
        for await (const { imageUpdated } of updates) {
          if (settled(imageUpdated)) return imageUpdated;
        }
      } catch {
        // The socket gave up: polling below still finds the outcome.
      }
      return new Promise<never>(() => {});
    };
    const viaPolling = async (): Promise<ImageDetailsFragment> => {
      for (let delay = POLL_FIRST_MS; ; delay = Math.min(POLL_MAX_MS, delay * 2)) {
        await sleep(delay, controller.signal);
        const { image } = await deps.request(
          ImageDocument,
          { id: upload.image.id },
          { signal: controller.signal },
        );
        if (image && settled(image)) return image;
      }
    };
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(signal.reason as Error);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    return outcome(await Promise.race([viaEvents(), viaPolling(), aborted]));
  } finally {
    controller.abort();
    release();
    await updates.return?.();
  }
}
