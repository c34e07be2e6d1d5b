import type { FormattedExecutionResult } from 'graphql';
import {
  APQ_GIVE_UP,
  APQ_RETRY_WITH_QUERY,
  persistedQueryExtension,
  type PreparedOperation,
} from './apq.js';
import { ArcadiaError, ArcadiaNetworkError } from './errors.js';

/** One HTTP try of an operation: where, with what, and who. */
export interface HttpRequest {
  operation: PreparedOperation;
  variables: Readonly<Record<string, unknown>> | undefined;
  /** The access token, or null for an anonymous request. */
  token: string | null;
  signal?: AbortSignal;
}

/** The HTTP transport: POSTs operations, speaking APQ when enabled. */
export interface HttpTransport {
  /**
   * Sends one operation and resolves with its data; throws ArcadiaError
   * (GraphQL errors, with `status`) or ArcadiaNetworkError (no GraphQL answer).
   */
  send(request: HttpRequest): Promise<unknown>;
}

/** What {@link createHttpTransport} needs. */
export interface HttpTransportOptions {
  url: string;
  fetch: typeof fetch;
  headers: Readonly<Record<string, string>>;
  persistedQueries: boolean;
}

const isResult = (body: unknown): body is FormattedExecutionResult =>
  typeof body === 'object' &&
  body !== null &&
  ('data' in body || (Array.isArray((body as { errors?: unknown }).errors) && true));

/**
 * The router's HTTP contract: `POST url` with a JSON body; a GraphQL answer
 * (any status, e.g. 401 with UNAUTHENTICATED) is a result, anything else a
 * network error. With persisted queries, the hash is sent alone first and
 * the query only after PERSISTED_QUERY_NOT_FOUND (Apollo APQ v1); a query
 * the router will not store (too large, APQ off, registrations
 * rate-limited) is sent plainly.
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  // Documents whose query is sent without the extension, and whether APQ is off altogether.
  const plain = new WeakSet<PreparedOperation>();
  let apqOff = !options.persistedQueries;

  const post = async (body: Record<string, unknown>, request: HttpRequest) => {
    let response: Response;
    try {
      response = await options.fetch(options.url, {
        method: 'POST',
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          accept: 'application/json',
          ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
        },
        body: JSON.stringify(body),
        ...(request.signal ? { signal: request.signal } : {}),
      });
    } catch (cause) {
      if (request.signal?.aborted) throw cause;
      throw new ArcadiaNetworkError(`Could not reach ${options.url}: ${String(cause)}`, { cause });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch (cause) {
      if (request.signal?.aborted) throw cause;
      throw new ArcadiaNetworkError(
        `${options.url} answered HTTP ${response.status} without JSON`,
        {
          status: response.status,
          cause,
        },
      );
    }
    if (!isResult(json)) {
      throw new ArcadiaNetworkError(
        `${options.url} answered HTTP ${response.status} without a GraphQL result`,
        { status: response.status },
      );
    }
    return { status: response.status, result: json };
  };

  const firstCode = (result: FormattedExecutionResult) => {
    const code = result.errors?.[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  };

  return {
    async send(request) {
      const { operation, variables } = request;
      const base = {
        ...(operation.operationName ? { operationName: operation.operationName } : {}),
        ...(variables ? { variables } : {}),
      };
      let answer: { status: number; result: FormattedExecutionResult } | undefined;
      if (!apqOff && !plain.has(operation)) {
        let hash: string | undefined;
        try {
          hash = await operation.hash();
        } catch {
          apqOff = true; // no WebCrypto here: plain queries
        }
        if (hash !== undefined) {
          const extensions = persistedQueryExtension(hash);
          answer = await post({ ...base, extensions }, request);
          if (APQ_RETRY_WITH_QUERY.has(firstCode(answer.result) ?? '')) {
            answer = await post({ ...base, query: operation.query, extensions }, request);
            const code = firstCode(answer.result);
            // A registration refused for its size or rate: this time, send it plainly.
            if (code === 'RATE_LIMITED' || (code && APQ_GIVE_UP.has(code))) {
              if (code !== 'RATE_LIMITED') plain.add(operation);
              if (code === 'PERSISTED_QUERY_NOT_SUPPORTED') apqOff = true;
              answer = undefined;
            }
          } else if (firstCode(answer.result) === 'PERSISTED_QUERY_NOT_SUPPORTED') {
            apqOff = true;
            answer = undefined;
          }
        }
      }
      answer ??= await post({ ...base, query: operation.query }, request);
      const { status, result } = answer;
      if (result.errors && result.errors.length > 0) {
        throw ArcadiaError.fromResponse(result.errors, { data: result.data ?? null, status });
      }
      return result.data;
    },
  };
}
