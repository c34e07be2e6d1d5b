import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { OperationTypeNode, type DocumentNode } from 'graphql';
import type { ImageDetailsFragment } from '../generated/graphql.js';
import { prepareOperation } from './apq.js';
import type { AuthStrategy, RawCall } from './auth.js';
import {
  createClientCredentialsAuth,
  type ClientCredentialsAuthOptions,
} from './client-credentials.js';
import { ArcadiaError } from './errors.js';
import { Emitter } from './events.js';
import { createHttpTransport } from './http.js';
import { isRetrySafe, retryDecision, retryPolicy, sleep, type RetryOptions } from './retry.js';
import { createSessionAuth, type ArcadiaClientEvents, type SessionApi } from './session.js';
import { memorySessionStorage, type SessionStorage } from './storage.js';
import { createSubscriptions } from './subscriptions.js';
import { uploadImage, type UploadImageOptions } from './upload.js';

/** A user session (the default), kept in `storage` (default: memory). */
export interface SessionAuthOptions {
  kind: 'session';
  storage?: SessionStorage;
}

/** Options of {@link createArcadiaClient}. */
export interface ArcadiaClientOptions {
  /** The router's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** graphql-ws endpoint; default: `url` with http(s) → ws(s). */
  wsUrl?: string;
  /** Default: a user session kept in memory (`{ kind: 'session' }`). */
  auth?: SessionAuthOptions | ClientCredentialsAuthOptions;
  /** Retries of safe operations: default { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 }. `false` disables. */
  retry?: RetryOptions | false;
  /** Automatic persisted queries (send the sha256 hash first). Default true. */
  persistedQueries?: boolean;
  /** For runtimes without a global fetch. */
  fetch?: typeof fetch;
  /** For runtimes without a global WebSocket (e.g. Node 20: `WebSocket` of the `ws` package). */
  webSocketImpl?: unknown;
  /** Extra headers on every HTTP request (e.g. a client name). */
  headers?: Record<string, string>;
}

/** Per-call options of `request`. */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Whether a mutation may be retried (it carries its own idempotency); queries always may. */
  idempotent?: boolean;
}

/** The variables argument: optional when the document has no required variables. */
export type VariablesArgs<TVariables> =
  Record<string, never> extends TVariables
    ? [variables?: TVariables, options?: RequestOptions]
    : [variables: TVariables, options?: RequestOptions];

/** An Arcadia API client; see {@link createArcadiaClient}. */
export interface ArcadiaClient {
  /**
   * Query or mutation over HTTP. Resolves with `data`; throws `ArcadiaError`
   * when the response has errors (carrying `data` when partial) or
   * `ArcadiaNetworkError` when the router cannot be reached.
   */
  request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    ...args: VariablesArgs<TVariables>
  ): Promise<TData>;
  /**
   * Subscription over graphql-ws: an async iterable of `data`. Resubscribes
   * after a dropped socket (with back-off) and after a 4401 "Token expired"
   * (refreshing first); ends with an ArcadiaError thrown from the iterator
   * on a GraphQL error; `break`/`return()` unsubscribes.
   */
  subscribe<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): AsyncIterableIterator<TData>;
  /** The user session (auth kind 'session'). */
  readonly session: SessionApi;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof ArcadiaClientEvents>(
    event: E,
    listener: (payload: ArcadiaClientEvents[E]) => void,
  ): () => void;
  /**
   * Uploads an image and resolves with it READY: createImageUpload → PUT to
   * the presigned URL (progress) → completeImageUpload → imageUpdated.
   * FAILED throws ArcadiaError `IMAGE_FAILED`.
   */
  uploadImage(file: Blob | Uint8Array, options?: UploadImageOptions): Promise<ImageDetailsFragment>;
  /** Closes the socket and ends subscriptions; the client is not used after. */
  close(): Promise<void>;
}

const UNAUTHENTICATED_REASONS = new Set(['TOKEN_EXPIRED', 'TOKEN_INVALID', 'SESSION_REVOKED']);

/** The `reason` of a refusal of the token itself (not "sign in first"), or null. */
function tokenRefusal(error: unknown): { reason: string | undefined } | null {
  if (!(error instanceof ArcadiaError)) return null;
  const first = error.first;
  if (first.code !== 'UNAUTHENTICATED') return null;
  if (error.status === 401 || (first.reason && UNAUTHENTICATED_REASONS.has(first.reason))) {
    return { reason: first.reason };
  }
  return null;
}

/**
 * A client of Arcadia's router for partner studios and the web console
 * (Node 20+ and browsers): typed requests over HTTP with persisted
 * queries and retries of safe operations, sessions (user sign-in, or an
 * API client's credentials) refreshed transparently, subscriptions over
 * graphql-ws that survive reconnections, and image uploads.
 */
export function createArcadiaClient(options: ArcadiaClientOptions): ArcadiaClient {
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const policy = retryPolicy(options.retry);
  const events = new Emitter<ArcadiaClientEvents>();
  const http = createHttpTransport({
    url: options.url,
    fetch: fetchImpl,
    headers: options.headers ?? {},
    persistedQueries: options.persistedQueries ?? true,
  });

  /**
   * One operation over HTTP with the retry policy: `token()` is asked
   * before every try; a refusal of the token goes to `rejected` (one
   * replay after it renewed the token, for any operation: the refused try
   * ran nothing).
   */
  const execute = async (
    document: DocumentNode,
    variables: Record<string, unknown> | undefined,
    how: {
      token: () => Promise<string | null>;
      rejected?: AuthStrategy['rejected'];
      signal?: AbortSignal;
      idempotent?: boolean;
    },
  ): Promise<unknown> => {
    const operation = prepareOperation(document);
    if (operation.kind === OperationTypeNode.SUBSCRIPTION) {
      throw new TypeError('Subscriptions go through client.subscribe, not request');
    }
    const safe = isRetrySafe({
      kind: operation.kind,
      name: operation.operationName,
      variables,
      ...(how.idempotent !== undefined ? { idempotent: how.idempotent } : {}),
    });
    let replayed = false;
    for (let retry = 0; ;) {
      const token = await how.token();
      try {
        return await http.send({
          operation,
          variables,
          token,
          ...(how.signal ? { signal: how.signal } : {}),
        });
      } catch (error) {
        const refusal = token && how.rejected ? tokenRefusal(error) : null;
        if (refusal && !replayed) {
          replayed = true;
          if (await how.rejected!(token!, refusal.reason)) continue;
          throw error;
        }
        if (!safe || how.signal?.aborted) throw error;
        const decision = retryDecision(error, retry, policy);
        if (!decision.retry) throw error;
        retry++;
        await sleep(decision.delayMs, how.signal);
      }
    }
  };

  const rawCall: RawCall = <TData>(
    document: TypedDocumentNode<TData, never>,
    variables: Record<string, unknown>,
    how: { token: string | null; idempotent?: boolean },
  ) =>
    execute(document, variables, {
      token: () => Promise.resolve(how.token),
      ...(how.idempotent !== undefined ? { idempotent: how.idempotent } : {}),
    }) as Promise<TData>;

  let session: SessionApi;
  let auth: AuthStrategy;
  if (options.auth?.kind === 'clientCredentials') {
    auth = createClientCredentialsAuth(options.auth, rawCall);
    const notForClients = () =>
      Promise.reject(
        new Error('client.session is for user sessions; this client uses client credentials'),
      );
    session = {
      signUp: notForClients,
      signIn: notForClients,
      signOut: notForClients,
      refresh: notForClients,
      current: notForClients,
    };
  } else {
    const sessionAuth = createSessionAuth({
      storage: options.auth?.storage ?? memorySessionStorage(),
      call: rawCall,
      events,
    });
    auth = sessionAuth;
    session = sessionAuth.api;
  }

  const subscriptions = createSubscriptions({
    url: options.wsUrl ?? options.url.replace(/^http(s?):/i, 'ws$1:'),
    webSocketImpl: options.webSocketImpl,
    auth,
    events,
    retry: policy,
  });

  const request = <TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables, requestOptions]: VariablesArgs<TVariables>
  ): Promise<TData> =>
    execute(document, variables, {
      token: () => auth.accessToken(),
      rejected: (token, reason) => auth.rejected(token, reason),
      ...(requestOptions?.signal ? { signal: requestOptions.signal } : {}),
      ...(requestOptions?.idempotent !== undefined
        ? { idempotent: requestOptions.idempotent }
        : {}),
    }) as Promise<TData>;

  return {
    request,
    subscribe: (document, variables) => subscriptions.subscribe(document, variables),
    session,
    on: (event, listener) => events.on(event, listener),
    uploadImage: (file, uploadOptions) =>
      uploadImage(
        {
          request: <TData>(
            document: TypedDocumentNode<TData, never>,
            variables: Record<string, unknown>,
            requestOptions?: { signal?: AbortSignal },
          ) =>
            execute(document, variables, {
              token: () => auth.accessToken(),
              rejected: (token, reason) => auth.rejected(token, reason),
              ...(requestOptions?.signal ? { signal: requestOptions.signal } : {}),
            }) as Promise<TData>,
          subscribe: (document, variables) => subscriptions.subscribe(document, variables),
          fetch: fetchImpl,
        },
        file,
        uploadOptions,
      ),
    async close() {
      await subscriptions.close();
      events.clear();
    },
  };
}
