import { STATUS_CODES } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import {
  GraphQLError,
  type ExecutionArgs,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import type { ExecutionResult, Response as SseResponse } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/express';
import type { Caller } from '@arcadia/auth';
import { UserError } from '@arcadia/errors';
import { INVALID_TOKEN_CHALLENGE, type Authenticate, type Authenticated } from '../auth.js';
import type { OperationRunner } from '../operations.js';
import type { SocketPresence } from '../presence.js';
import { recordErrorCode, type RequestRecord } from '../request-context.js';
import { sessionRevoked, tokenExpired, type SessionGuard } from '../sessions.js';
import type { SubscriptionEngine, SubscriptionEvent } from '../subscriptions/engine.js';
import type { SubscriptionMetrics } from '../subscriptions/metrics.js';
import { clientEvents, type StreamingOperation } from './streaming.js';

/** What the SSE transport needs from the router. */
export interface SseTransportDeps {
  /** The one operation path (Apollo's pipeline). */
  run: OperationRunner;
  authenticate: Authenticate;
  engine: SubscriptionEngine;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  metrics: SubscriptionMetrics;
  /** Marks signed-in users online while they hold a stream here. */
  presence: SocketPresence;
  /** Ends a stream when its token expires or its session is revoked. */
  sessions: Pick<SessionGuard, 'watch'>;
}

/** What an operation carries from `onSubscribe` to `subscribe`. */
type SseContextValue = StreamingOperation & {
  caller: Caller;
  expiresAt: Date | null;
  record: RequestRecord;
  res: Response;
};

/** Whether a request asks for Server-Sent Events, which this transport answers. */
function wantsEventStream(req: Request): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}

/**
 * A result the router formatted already, typed as graphql-sse types results
 * (with GraphQLError instances); graphql-sse serialises it as it is.
 */
function formatted(result: FormattedExecutionResult): ExecutionResult {
  return result as unknown as ExecutionResult;
}

/**
 * One result as an event stream of one `next`. graphql-sse's own answer to
 * a document that fails validation, so clients get the errors as GraphQL
 * errors, not as a failed HTTP response.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- an async generator is what graphql-sse streams, and ends when the client leaves
async function* once(result: FormattedExecutionResult): AsyncGenerator<ExecutionResult> {
  yield formatted(result);
}

/**
 * Serves GraphQL over Server-Sent Events ("distinct connections" mode) for
 * clients that cannot hold a WebSocket: `POST /graphql` (or a `GET` for
 * queries and subscriptions) with `Accept: text/event-stream`, the token in
 * the usual Authorization header. Mounted on the HTTP path after the
 * request log: the stream is one HTTP request, and the request's record is
 * its operation's. Anything not asking for an event stream falls through.
 */
export function sseHandler(deps: SseTransportDeps): RequestHandler {
  const labels = { transport: 'sse' };

  /** The response to a refused token: HTTP's 401 with the same body. */
  const refusal = (error: unknown): SseResponse => {
    const status = error instanceof UserError ? 401 : 500;
    const shown = deps.formatError(
      error instanceof GraphQLError ? error.toJSON() : { message: String(error) },
      error,
    );
    return [
      JSON.stringify({ errors: [shown] }),
      {
        status,
        statusText: STATUS_CODES[status] ?? '',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          ...(status === 401 ? { 'www-authenticate': INVALID_TOKEN_CHALLENGE } : {}),
        },
      },
    ];
  };

  /** Starts an admitted subscription on the engine; the stream counts as a socket of its user. */
  const subscribe = (value: Extract<SseContextValue, { kind: 'subscription' }>) => {
    const { subscription, caller, expiresAt, record, res } = value;
    let events;
    try {
      events = deps.engine.subscribe({
        ...subscription,
        caller,
        transport: 'sse',
        onSlowConsumer: () => {
          deps.metrics.slowClientsDropped.inc(labels);
          res.destroy();
        },
      });
    } catch (cause) {
      // The engine refuses new subscriptions while the router shuts down.
      const error = deps.formatError({ message: String(cause) }, cause);
      recordErrorCode(error.extensions?.code, record);
      record.status = 503;
      return formatted({ errors: [error] });
    }
    record.status = 200;
    deps.metrics.clientSockets.inc(labels);
    const presenceId = deps.presence.register(caller);
    // A stream outlives no token and no session: its last event says why it ends.
    let unwatch = () => {};
    const lastEvent = new Promise<SubscriptionEvent>((resolve) => {
      unwatch = deps.sessions.watch({ sessionId: caller.sessionId, expiresAt }, (why) => {
        const error = why === 'TOKEN_EXPIRED' ? tokenExpired() : sessionRevoked();
        resolve({ errors: [deps.formatError(error.toJSON(), error)] });
      });
    });
    return clientEvents(events, {
      lastEvent,
      onEnd: () => {
        unwatch();
        deps.metrics.clientSockets.dec(labels);
        deps.presence.release(presenceId);
      },
    }) as AsyncIterableIterator<ExecutionResult>;
  };

  /** A subscription goes to the engine; a query or mutation already ran in Apollo. */
  const start = (value: SseContextValue) =>
    value.kind === 'subscription' ? subscribe(value) : formatted(value.result);

  const handler = createHandler<SseContextValue>({
    // Apollo's pipeline validated the operation in `onSubscribe`, under the
    // limits; graphql-sse would validate it again.
    validate: () => [],
    onSubscribe: async (req, params) => {
      const { res } = req.context;
      const record = res.locals.record as RequestRecord;
      let auth: Authenticated;
      try {
        auth = await deps.authenticate(req.headers.get('authorization'));
      } catch (error) {
        return refusal(error);
      }
      const outcome = await deps.run(params, {
        caller: auth.caller,
        record,
        http: { method: req.method },
      });
      if (outcome.kind === 'result') {
        // Refusals too: the stream carries them as graphql-sse carries its own.
        record.status = outcome.status;
        return once(outcome.result);
      }
      const { document, operationName, variables } = outcome.subscription;
      const contextValue: SseContextValue = {
        ...outcome,
        caller: auth.caller,
        expiresAt: auth.expiresAt,
        record,
        res,
      };
      return {
        schema: deps.engine.planner.apiSchema,
        document,
        operationName,
        variableValues: variables,
        contextValue,
      } satisfies ExecutionArgs;
    },
    subscribe: (args) => start(args.contextValue),
    execute: (args) => start(args.contextValue),
  });

  return (req, res, next) => {
    if (!wantsEventStream(req)) return next();
    (res.locals.record as RequestRecord).transport = 'sse';
    handler(req, res).catch(next);
  };
}
