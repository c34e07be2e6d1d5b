import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import type { Logger } from '@arcadia/observability';
import type { RouterMetrics } from './metrics.js';
import {
  newRequestRecord,
  requestIdFrom,
  requestScope,
  type RequestRecord,
  type RouterContext,
} from './request-context.js';

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,127}$/;

function outcomeOf(status: number, record: RequestRecord): 'success' | 'partial' | 'error' {
  if (status >= 400) return 'error';
  if (!record.errorCodes.length) return 'success';
  return record.hasData ? 'partial' : 'error';
}

/**
 * First handler of the GraphQL paths: gives the request its id and record,
 * and when the response is over writes exactly one log line and the request
 * metrics, whatever answered (Apollo, the auth check, the body parser).
 * Preflights and the Sandbox page are not operations and are not counted.
 */
export function requestLog(options: { logger: Logger; metrics: RouterMetrics }): RequestHandler {
  const { logger, metrics } = options;
  return (req, res, next) => {
    if (req.method === 'OPTIONS') {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    const record = newRequestRecord(requestIdFrom(req.headers['x-request-id']));
    res.locals.record = record;
    res.setHeader('x-request-id', record.requestId);
    res.once('close', () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/html')) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // 499: the client went away before the response was complete (nginx's code).
      const status = res.writableFinished ? res.statusCode : 499;
      const outcome = outcomeOf(status, record);
      const operation = metrics.operationLabel(record.operationName);
      metrics.requests.inc({ operation, outcome });
      metrics.requestDuration.observe({ operation }, seconds);
      logger.info(
        {
          requestId: record.requestId,
          operationName: record.operationName,
          durationMs: Math.round(seconds * 1e5) / 100,
          caller: record.caller?.userId ?? null,
          ...(record.caller?.clientId ? { clientId: record.caller.clientId } : {}),
          status,
          outcome,
          errorCodes: record.errorCodes,
        },
        'graphql request',
      );
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
  const sent = body?.operationName ?? req.query.operationName;
  if (typeof sent === 'string' && GRAPHQL_NAME.test(sent)) record.operationName = sent;
  requestScope.run(record, next);
};

/** Tells the request record which operation ran and whether data went back. */
export function requestRecordPlugin(): ApolloServerPlugin<RouterContext> {
  return {
    requestDidStart: ({ contextValue }) =>
      Promise.resolve({
        didResolveOperation: ({ operationName }) => {
          contextValue.record.operationName = operationName;
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
