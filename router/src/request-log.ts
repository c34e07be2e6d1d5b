import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import type { Logger } from '@arcadia/observability';
import type { ClientAddress } from './connection-limits.js';
import type { RouterMetrics } from './metrics.js';
import {
  newRequestRecord,
  recordSentOperationName,
  requestIdFrom,
  requestScope,
  type RequestRecord,
  type RouterContext,
} from './request-context.js';

/** The status of an operation whose client went away before its answer (nginx's code). */
export const CLIENT_CLOSED_REQUEST = 499;

/** How an operation ended, a label of `graphql_requests_total`. */
export type Outcome = 'success' | 'partial' | 'error';

/** `error` for a failed status or errors without data, `partial` for data with errors. */
export function outcomeOf(status: number, record: RequestRecord): Outcome {
  if (status >= 400) return 'error';
  if (!record.errorCodes.length) return 'success';
  return record.hasData ? 'partial' : 'error';
}

/** Writes the access log line and request metrics of operations. */
export interface OperationLog {
  /**
   * Ends `record`'s operation with `status`: one log line (`graphql
   * request`) and one count in `graphql_requests_total` and
   * `graphql_request_duration_seconds`, the same for every transport but
   * for the `transport` field. Later calls for the same record do nothing.
   *
   * `status` is the HTTP status the operation got (over graphql-ws and SSE:
   * the one Apollo chose, which the same operation gets over HTTP), or
   * {@link CLIENT_CLOSED_REQUEST} when the client left before its answer.
   * A subscription ends when the client or the upstream ends it; its
   * duration is its lifetime.
   */
  finish(record: RequestRecord, status: number): void;
}

/** The router's {@link OperationLog}, writing to `logger` and `metrics`. */
export function createOperationLog(options: {
  logger: Logger;
  metrics: RouterMetrics;
}): OperationLog {
  const { logger, metrics } = options;
  return {
    finish(record, status) {
      if (record.logged) return;
      record.logged = true;
      const seconds = Number(process.hrtime.bigint() - record.startedAt) / 1e9;
      const outcome = outcomeOf(status, record);
      const operation = metrics.operationLabel(record.operationName);
      metrics.requests.inc({ operation, outcome });
      metrics.requestDuration.observe({ operation }, seconds);
      logger.info(
        {
          requestId: record.requestId,
          transport: record.transport,
          operationName: record.operationName,
          operationType: record.operationType,
          durationMs: Math.round(seconds * 1e5) / 100,
          caller: record.caller?.userId ?? null,
          ...(record.caller?.clientId ? { clientId: record.caller.clientId } : {}),
          status,
          outcome,
          errorCodes: record.errorCodes,
        },
        'graphql request',
      );
    },
  };
}

/**
 * First handler of the GraphQL paths: gives the request its id and record,
 * and when the response is over ends the operation in `log`, whatever
 * answered (Apollo, the SSE transport, the auth check, the body parser).
 * Preflights and the Sandbox page are not operations and are not counted.
 */
export function requestLog(log: OperationLog, clientAddress?: ClientAddress): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'OPTIONS') {
      next();
      return;
    }
    const record = newRequestRecord(
      requestIdFrom(req.headers['x-request-id']),
      'http',
      clientAddress?.(req),
    );
    res.locals.record = record;
    res.setHeader('x-request-id', record.requestId);
    res.once('close', () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/html')) return;
      // An SSE stream settles its operation's status itself (a subscription
      // stays open until the client leaves); otherwise the response says it.
      const status =
        record.status ?? (res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST);
      log.finish(record, status);
    });
    next();
  };
}

/**
 * Runs the rest of the request inside {@link requestScope}. Mounted after
 * the body parser: the parser's stream callbacks would not carry the scope.
 */
export const enterRequestScope: RequestHandler = (req, res, next) => {
  const record = res.locals.record as RequestRecord;
  const body = req.body as { operationName?: unknown } | undefined;
  recordSentOperationName(record, body?.operationName ?? req.query.operationName);
  requestScope.run(record, next);
};

/** Tells the request record which operation ran and whether data went back. */
export function requestRecordPlugin(): ApolloServerPlugin<RouterContext> {
  return {
    requestDidStart: ({ contextValue }) =>
      Promise.resolve({
        didResolveOperation: ({ operationName, operation }) => {
          contextValue.record.operationName = operationName;
          contextValue.record.operationType = operation?.operation ?? null;
          return Promise.resolve();
        },
        willSendResponse: ({ response }) => {
          const body = response.body;
          const result = body.kind === 'single' ? body.singleResult : body.initialResult;
          contextValue.record.hasData = result.data !== undefined && result.data !== null;
          return Promise.resolve();
        },
      }),
  };
}
