import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ANONYMOUS, CALLER_HEADER, type CallerSigner } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import type { RouterMetrics } from './metrics.js';
import type { RouterContext } from './request-context.js';

type Fetcher = RemoteGraphQLDataSource['fetcher'];

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
 * The fetch one subgraph's data source uses. Node's fetch (undici) keeps
 * connections alive and pools them per origin; each fetch, body included,
 * has `timeoutMs`. Failures become SERVICE_UNAVAILABLE naming the service,
 * never the host. A non-2xx answer that carries a GraphQL body is handed
 * over as a normal response: Apollo subgraphs answer e.g. 403 or 429 when a
 * resolver throws such an error, and the gateway would otherwise replace the
 * subgraph's errors and partial data with a bare "403: Forbidden".
 */
export function createSubgraphFetcher(options: {
  serviceName: string;
  timeoutMs: number;
  metrics: RouterMetrics;
  logger: Logger;
}): Fetcher {
  const { serviceName, metrics, logger } = options;
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
  return async (url, init) => {
    const stopTimer = metrics.subgraphFetchDuration.startTimer(labels);
    let response: Response;
    let text: string;
    try {
      // Apollo's fetcher init types its body as string | Buffer, both valid fetch bodies.
      response = await fetch(url, {
        ...(init as RequestInit),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // Read the body here so the timeout covers it and a reset mid-body is
      // reported like any other unreachable service.
      text = await response.text();
    } catch (error) {
      metrics.subgraphFetchErrors.inc(labels);
      warn({ err: error }, 'subgraph fetch failed');
      throw serviceUnavailable(serviceName);
    } finally {
      stopTimer();
    }
    if (response.status >= 500) metrics.subgraphFetchErrors.inc(labels);
    if (response.ok) {
      // A null-body status (204) must be rebuilt without a body.
      return new Response(text === '' ? null : text, {
        status: response.status,
        headers: response.headers,
      });
    }
    if (isGraphQLBody(text)) {
      return new Response(text, { status: 200, headers: response.headers });
    }
    warn(
      { status: response.status, body: text.slice(0, 500) },
      'subgraph answered without a GraphQL body',
    );
    if ([502, 503, 504].includes(response.status)) throw serviceUnavailable(serviceName);
    // Any other refusal is the router's fault (or a misconfiguration): masked
    // for the client, logged with detail by formatError.
    throw new Error(`subgraph ${serviceName} answered HTTP ${response.status}`);
  };
}

/**
 * The gateway's connection to one subgraph: adds the caller, signed for this
 * subgraph and this request, and the request id to every fetch.
 */
export class CallerForwardingDataSource extends RemoteGraphQLDataSource<RouterContext> {
  readonly name: string;

  constructor(
    config: { name: string; url: string; fetcher: Fetcher },
    private readonly signCaller: CallerSigner,
  ) {
    super({ url: config.url, fetcher: config.fetcher });
    this.name = config.name;
  }

  override async willSendRequest(
    options: GraphQLDataSourceProcessOptions<RouterContext>,
  ): Promise<void> {
    const { http, query, operationName, variables } = options.request;
    if (!http) return;
    // The gateway sends exactly this request as the body, after this hook.
    const binding = {
      audience: this.name,
      method: http.method,
      request: { query, operationName, variables },
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
