import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ANONYMOUS, CALLER_HEADER, type CallerSigner } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { OperationTypeNode } from 'graphql';
import type { Dispatcher } from 'undici';
import { contextScope, InflightDeduplicator } from './dedupe.js';
import type { RouterMetrics } from './metrics.js';
import type { RouterContext } from './request-context.js';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

const FAILURE_LOG_INTERVAL_MS = 10_000;

/** The error clients see when a subgraph cannot be reached: its name, nothing internal. */
export function serviceUnavailable(serviceName: string): UserError {
  return new UserError(
    ErrorCode.SERVICE_UNAVAILABLE,
    `The ${serviceName} service is unavailable.`,
    { serviceName },
  );
}

function isGraphQLBody(text: string): boolean {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null && ('errors' in body || 'data' in body);
  } catch {
    return false;
  }
}

/**
 * The fetch one subgraph's data source uses, on undici's dispatcher API
 * (`dispatcher`, an undici `Agent` of the router) rather than `fetch`:
 * the WHATWG layer (Request, Response, web streams, a clone of every
 * request body kept to replay redirects) cost several times the HTTP
 * exchange itself on the router's many small fetches. Connections are kept
 * alive and pooled per origin. Each fetch, body included, has `timeoutMs`.
 *
 * A 2xx reply goes to the gateway undecoded, which reads and parses its
 * body once. Failures (unreachable, reset mid-body, the timeout) become
 * SERVICE_UNAVAILABLE naming the service, never the host. A non-2xx answer
 * that carries a GraphQL body is handed over as a normal response: Apollo
 * subgraphs answer e.g. 403 or 429 when a resolver throws such an error,
 * and the gateway would otherwise replace the subgraph's errors and
 * partial data with a bare "403: Forbidden". Redirects are not followed.
 */
export function createSubgraphFetcher(options: {
  serviceName: string;
  timeoutMs: number;
  metrics: RouterMetrics;
  logger: Logger;
  dispatcher: Dispatcher;
}): Fetcher {
  const { serviceName, metrics, logger, dispatcher } = options;
  const labels = { service: serviceName };
  // A down subgraph fails every fetch; one warning per interval (with the
  // number of failures since the last one) says so without flooding the log.
  let lastWarnAt = 0;
  let failuresSinceWarn = 0;
  const warn = (details: Record<string, unknown>, message: string) => {
    failuresSinceWarn++;
    if (Date.now() - lastWarnAt < FAILURE_LOG_INTERVAL_MS) return;
    logger.warn({ subgraph: serviceName, failures: failuresSinceWarn, ...details }, message);
    lastWarnAt = Date.now();
    failuresSinceWarn = 0;
  };
  const unavailable = (error: unknown): UserError => {
    metrics.subgraphFetchErrors.inc(labels);
    warn({ err: error }, 'subgraph fetch failed');
    return serviceUnavailable(serviceName);
  };
  // A data source always fetches the same URL; parsed once.
  let target: { url: string; origin: string; path: string } | undefined;
  return async (url, init) => {
    if (target?.url !== url) {
      const parsed = new URL(url);
      target = { url, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    }
    const stopTimer = metrics.subgraphFetchDuration.startTimer(labels);
    let reply: Dispatcher.ResponseData;
    try {
      reply = await dispatcher.request({
        origin: target.origin,
        path: target.path,
        method: init?.method ?? 'POST',
        headers: init?.headers ?? {},
        body: init?.body ?? null,
        // The whole budget, body included, whoever reads the body.
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      stopTimer();
      throw unavailable(error);
    }
    const status = reply.statusCode;
    if (status >= 500) metrics.subgraphFetchErrors.inc(labels);
    if (status >= 200 && status < 300) {
      return new SubgraphReply(url, status, reply, stopTimer, unavailable);
    }
    let text: string;
    try {
      text = await reply.body.text();
    } catch (error) {
      throw unavailable(error);
    } finally {
      stopTimer();
    }
    if (isGraphQLBody(text)) {
      return new SubgraphReply(url, 200, reply, stopTimer, unavailable, text);
    }
    warn({ status, body: text.slice(0, 500) }, 'subgraph answered without a GraphQL body');
    if ([502, 503, 504].includes(status)) throw serviceUnavailable(serviceName);
    // Any other refusal (or a redirect) is the router's fault or a
    // misconfiguration: masked for the client, logged with detail by formatError.
    throw new Error(`subgraph ${serviceName} answered HTTP ${status}`);
  };
}

/**
 * A subgraph's reply as the gateway reads it (the `fetch` Response
 * subset of `@apollo/utils.fetcher`). The body is read once, by the
 * gateway; a body that fails to arrive is reported like any other
 * unreachable service, and the fetch duration ends with it. A body that is
 * not JSON stays the gateway's parse error.
 */
class SubgraphReply implements FetcherResponse {
  readonly redirected = false;
  readonly statusText = '';
  readonly headers: Headers;
  bodyUsed = false;

  constructor(
    readonly url: string,
    readonly status: number,
    private readonly reply: Dispatcher.ResponseData,
    private readonly stopTimer: () => void,
    private readonly unavailable: (error: unknown) => Error,
    /** The body, when it was read already (a non-2xx reply passed on). */
    private readonly readText?: string,
  ) {
    this.headers = new Headers();
    for (const [name, value] of Object.entries(reply.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) this.headers.append(name, one);
    }
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  async text(): Promise<string> {
    if (this.readText !== undefined) return this.readText;
    this.bodyUsed = true;
    try {
      return await this.reply.body.text();
    } catch (error) {
      throw this.unavailable(error);
    } finally {
      this.stopTimer();
    }
  }

  async json(): Promise<unknown> {
    // Decoded and parsed once; a parse error is the subgraph's broken body.
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = Buffer.from(await this.text());
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }

  clone(): FetcherResponse {
    throw new Error('A subgraph response is read once.');
  }
}

type ProcessOptions = GraphQLDataSourceProcessOptions<RouterContext>;
type SubgraphResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;
type GatewayRequest = ProcessOptions['request'];

/**
 * The gateway's connection to one subgraph: adds the caller, signed for this
 * subgraph and this request, and the request id to every fetch.
 *
 * With `deduplicate`, identical fetches of queries (same query, operation
 * name, variables and caller scope, see `callerScope`) that are in flight
 * at once, within one operation or across operations, share one HTTP
 * request. The shared caller header is the first fetch's, bound to that
 * same request and caller scope, so the subgraph sees what it would have
 * seen for each of them. Each sharer but the last gets its own copy of the
 * data: the gateway merges entity data into its result in place.
 */
export class CallerForwardingDataSource extends RemoteGraphQLDataSource<RouterContext> {
  readonly name: string;
  private readonly inflight: InflightDeduplicator<SubgraphResponse> | undefined;
  /** The JSON text of variables being sent (see {@link variablesJson}). */
  private readonly serialized = new WeakMap<object, string>();
  private readonly batcher: FetchBatcher | undefined;

  constructor(
    config: {
      name: string;
      url: string;
      fetcher: Fetcher;
      /** Share identical in-flight query fetches; called for each fetch that shared one. */
      deduplicate?: { onShared: () => void };
      /**
       * Send the fetches made in one turn of the event loop as one POST of
       * an array (see {@link FetchBatcher}); called with each batch's size.
       */
      batch?: { maxSize: number; maxLength: number; onBatch: (size: number) => void };
    },
    private readonly signCaller: CallerSigner,
  ) {
    super({ url: config.url, fetcher: config.fetcher });
    this.name = config.name;
    // Shadows the gateway's private method of the same name; see `send`.
    Object.defineProperty(this, 'sendRequest', { value: this.send.bind(this) });
    this.batcher = config.batch ? new FetchBatcher(this, config.batch) : undefined;
    this.inflight = config.deduplicate
      ? new InflightDeduplicator<SubgraphResponse>({
          onShared: config.deduplicate.onShared,
          copy: (response) =>
            response.data ? { ...response, data: structuredClone(response.data) } : response,
        })
      : undefined;
  }

  override process(options: ProcessOptions): Promise<SubgraphResponse> {
    const key = this.inflight && this.fetchKey(options);
    if (key === undefined) return super.process(options);
    let sent = false;
    const response = this.inflight!.run(key, () => {
      sent = true;
      return super.process(options);
    });
    // A fetch that joined another never sees the reply's `cache-control`,
    // which the gateway folds into each operation's cache policy: such an
    // operation's response is not cacheable rather than more cacheable than
    // its subgraphs allow.
    if (!sent && 'incomingRequestContext' in options) {
      const policy = options.incomingRequestContext.overallCachePolicy as
        { restrict?: (hint: { maxAge: number }) => void } | undefined;
      policy?.restrict?.({ maxAge: 0 });
    }
    return response;
  }

  /**
   * The key of a fetch that may be shared, else undefined. Fetches of a
   * client's query or of a subscription event (both reads), never a
   * mutation's: its later fetches must read what it wrote, not join a read
   * that started before.
   */
  private fetchKey(options: ProcessOptions): string | undefined {
    if (!('incomingRequestContext' in options)) return undefined;
    if (options.incomingRequestContext.operation?.operation === OperationTypeNode.MUTATION) {
      return undefined;
    }
    const { query, operationName, variables } = options.request;
    // Tracing asks for a per-request trace header: not shareable.
    if (options.request.http?.headers) return undefined;
    // NUL separates the parts: it cannot occur in a GraphQL document or name.
    return `${contextScope(options.context)}\0${operationName ?? ''}\0${query}\0${this.variablesJson(variables)}`;
  }

  /**
   * `JSON.stringify(variables)`, computed once per fetch: entity fetches
   * carry every representation in their variables, and both the key and
   * the body need the text.
   */
  private variablesJson(variables: Record<string, unknown> | undefined): string {
    if (!variables) return 'null';
    let json = this.serialized.get(variables);
    if (json === undefined) {
      json = JSON.stringify(variables);
      this.serialized.set(variables, json);
    }
    return json;
  }

  /**
   * Replaces the gateway's private `sendRequest` (assigned in the
   * constructor), which builds a node-fetch Request, a copy of the body,
   * only for error hooks this data source does not have. Otherwise the
   * same: the body is the request without `http`, a non-2xx reply is the
   * gateway's error, and the reply must be a JSON object.
   */
  private async send(request: GatewayRequest): Promise<SubgraphResponse> {
    const { http, query, operationName, variables, extensions } = request;
    if (!http) throw new Error("Internal error: Only 'http' requests are supported.");
    let body = `{"query":${JSON.stringify(query)}`;
    if (variables !== undefined) body += `,"variables":${this.variablesJson(variables)}`;
    if (operationName !== undefined) body += `,"operationName":${JSON.stringify(operationName)}`;
    if (this.batcher && extensions === undefined && http.method === 'POST') {
      return this.batcher.add({ http, body });
    }
    if (extensions !== undefined) body += `,"extensions":${JSON.stringify(extensions)}`;
    body += '}';
    return this.post(http, body);
  }

  /** One fetch of `body` (a request's JSON text) with `http`'s method and headers. */
  async post(http: NonNullable<GatewayRequest['http']>, body: string): Promise<SubgraphResponse> {
    const response = await this.fetcher(http.url, {
      method: http.method,
      headers: Object.fromEntries(http.headers),
      body,
    });
    if (!response.ok) throw await this.errorFromResponse(response);
    const parsed = await this.parseBody(response);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`Expected JSON response body, but received: ${String(parsed)}`);
    }
    return { ...(parsed as SubgraphResponse), http: response };
  }

  /** One POST of many requests' JSON texts as an array; their answers in order. */
  async postBatch(
    http: NonNullable<GatewayRequest['http']>,
    bodies: string[],
  ): Promise<SubgraphResponse[]> {
    // Each operation carries its own request id; the batch goes under the first's.
    const requestId = http.headers.get('x-request-id');
    const response = await this.fetcher(http.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(requestId ? { 'x-request-id': requestId } : {}),
      },
      body: `[${bodies.join(',')}]`,
    });
    if (!response.ok) throw await this.errorFromResponse(response);
    const parsed = await this.parseBody(response);
    if (!Array.isArray(parsed) || parsed.length !== bodies.length) {
      throw new Error(`${this.name} answered a batch of ${bodies.length} with something else`);
    }
    return parsed.map((one: unknown) => {
      if (typeof one !== 'object' || one === null || Array.isArray(one)) {
        throw new Error(`Expected JSON response body, but received: ${String(one)}`);
      }
      return { ...(one as SubgraphResponse), http: response };
    });
  }

  override async willSendRequest(options: ProcessOptions): Promise<void> {
    const { http, query, operationName, variables } = options.request;
    if (!http) return;
    // The gateway sends exactly this request as the body, after this hook.
    const binding = {
      audience: this.name,
      method: http.method,
      // The variables' text is the body's (see `send`): serialised once.
      request: {
        query,
        operationName,
        ...(variables ? { variablesJson: this.variablesJson(variables) } : {}),
      },
    };
    // The gateway does not export its request-kind enum; only operations
    // that came from a client carry their request context.
    if ('incomingRequestContext' in options) {
      const context = options.context;
      http.headers.set(CALLER_HEADER, await context.signedCaller(binding));
      http.headers.set('x-request-id', context.requestId);
    } else {
      // Health checks and schema loads carry no caller; subgraphs still
      // demand a signature, so they get the anonymous one.
      http.headers.set(CALLER_HEADER, await this.signCaller(ANONYMOUS, binding));
    }
  }
}

interface QueuedFetch {
  readonly http: NonNullable<GatewayRequest['http']>;
  /** The request's JSON text without its closing brace. */
  readonly body: string;
  resolve(response: SubgraphResponse): void;
  reject(error: unknown): void;
}

/**
 * Cross-request fetch batching. The fetches a subgraph gets in one turn of
 * the event loop — the parallel fetches of one plan, and those of every
 * other operation in flight that reached the same step — go as one POST of
 * an array (the batch format of `@arcadia/subgraph-kit`), each operation
 * carrying its own caller, signed for that operation alone, and its request
 * id in `extensions`, and each answer goes back to its own fetch. A lone
 * fetch goes as an ordinary request. So under load the router and the
 * subgraph handle one HTTP exchange for many fetches; no fetch waits to be
 * sent beyond the turn it was made in. A batch is bounded in fetches and
 * bytes (below the subgraphs' body limit). The price, as with any
 * batching: the subgraph answers a batch when its last operation is done,
 * so a slow operation delays the others of its batch, and the fetch
 * timeout applies to the batch as a whole.
 */
class FetchBatcher {
  private queue: QueuedFetch[] = [];
  /** Bytes of the queued bodies. */
  private queuedLength = 0;
  private scheduled = false;

  constructor(
    private readonly source: CallerForwardingDataSource,
    private readonly options: {
      maxSize: number;
      /** Most body bytes in one batch: fetches that fit a subgraph's body limit alone still do together. */
      maxLength: number;
      onBatch: (size: number) => void;
    },
  ) {}

  add(fetch: Omit<QueuedFetch, 'resolve' | 'reject'>): Promise<SubgraphResponse> {
    return new Promise<SubgraphResponse>((resolve, reject) => {
      const length = Buffer.byteLength(fetch.body);
      // A batch that would outgrow the byte bound goes first, without it.
      if (this.queue.length && this.queuedLength + length > this.options.maxLength) {
        this.flush();
      }
      this.queue.push({ ...fetch, resolve, reject });
      this.queuedLength += length;
      if (
        this.queue.length >= this.options.maxSize ||
        this.queuedLength >= this.options.maxLength
      ) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.queuedLength = 0;
    if (batch.length === 0) return;
    this.options.onBatch(batch.length);
    if (batch.length === 1) {
      const [only] = batch as [QueuedFetch];
      this.source.post(only.http, `${only.body}}`).then(
        (response) => only.resolve(response),
        (error: unknown) => only.reject(error),
      );
      return;
    }
    const bodies = batch.map(({ http, body }) => {
      const extensions: Record<string, string> = {};
      const caller = http.headers.get(CALLER_HEADER);
      if (caller) extensions[CALLER_HEADER] = caller;
      const requestId = http.headers.get('x-request-id');
      if (requestId) extensions['x-request-id'] = requestId;
      return `${body},"extensions":${JSON.stringify(extensions)}}`;
    });
    this.source.postBatch(batch[0]!.http, bodies).then(
      (answers) => batch.forEach((fetch, i) => fetch.resolve(answers[i]!)),
      (error: unknown) => batch.forEach((fetch) => fetch.reject(error)),
    );
  }
}
