import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { ExecutionArgs, GraphQLError, GraphQLFormattedError } from 'graphql';
import {
  CloseCode,
  MessageType,
  stringifyMessage,
  type ExecutionResult,
  type FormattedExecutionResult,
} from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type VerifyClientCallbackAsync, type WebSocket } from 'ws';
import { ANONYMOUS, type Caller } from '@arcadia/auth';
import { UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import {
  authorizationFromConnectionParams,
  type Authenticate,
  type Authenticated,
} from '../auth.js';
import type { OperationRunner } from '../operations.js';
import type { SessionGuard } from '../sessions.js';
import type { SocketPresence } from '../presence.js';
import type { ClientAddress } from '../connection-limits.js';
import { newRequestRecord, recordErrorCode, type RequestRecord } from '../request-context.js';
import { CLIENT_CLOSED_REQUEST, type OperationLog } from '../request-log.js';
import type { SubscriptionEngine, SubscriptionEvent } from '../subscriptions/engine.js';
import type { SubscriptionMetrics } from '../subscriptions/metrics.js';
import { asGraphQLErrors, clientEvents, type StreamingOperation } from './streaming.js';

/**
 * Close code for a client cut off for reading too slowly: "Try Again Later"
 * of the WebSocket close code registry (RFC 6455), non-fatal so clients may
 * retry. graphql-ws's `CloseCode` has no such code.
 */
const TRY_AGAIN_LATER_CLOSE_CODE = 1013;

/**
 * Close code and reason for a socket left without an operation: a normal
 * closure, as graphql-ws's lazy client closes its own socket when its last
 * operation ends; the client reconnects when it has one again.
 */
const IDLE_CLOSE_CODE = 1000;
const IDLE_CLOSE_REASON = 'Idle timeout';

/** What the graphql-ws transport needs from the router. */
export interface WebSocketTransportDeps {
  /** The one operation path (Apollo's pipeline). */
  run: OperationRunner;
  authenticate: Authenticate;
  log: OperationLog;
  engine: SubscriptionEngine;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  metrics: SubscriptionMetrics;
  logger: Logger;
  /** Bytes a client's socket may have queued before it counts as too slow. */
  maxSocketBufferBytes: number;
  /** Marks signed-in users online while they hold a socket here. */
  presence: SocketPresence;
  /** Closes a socket when its token expires or its session is revoked. */
  sessions: Pick<SessionGuard, 'watch'>;
  /** Time a socket has to send `connection_init` (closed with 4408 then). */
  initTimeoutMs: number;
  /** Time an acknowledged socket may go without any operation before it is closed. */
  idleTimeoutMs: number;
  /** The client address of a handshake (the TCP peer, or X-Forwarded-For from a trusted proxy). */
  clientAddress: ClientAddress;
  /** Admits or refuses each handshake (ws's `verifyClient`): the per-address connection cap. */
  verifyClient: VerifyClientCallbackAsync;
}

/** An operation of a socket between its `subscribe` message and its access log line. */
interface LiveOperation {
  record: RequestRecord;
  kind: 'pending' | 'result' | 'subscription';
  /** The status to log once the client has its answer. */
  status: number;
}

/** What graphql-ws keeps per socket. */
type SocketExtra = {
  auth: Authenticated;
  /** Stops watching for the token's expiry and the session's revocation. */
  unwatch: () => void;
  /** Closes the socket when it has had no operation for the idle timeout; set while it has none. */
  idleTimer: NodeJS.Timeout | undefined;
  /** The socket's id in presence; null when its caller is not tracked. */
  presenceId: string | null;
  /** Whether the socket is counted in the client-socket gauge (until it closes). */
  counted: boolean;
  /** Operations of this socket not yet logged, by the client's id. */
  operations: Map<string, LiveOperation>;
};

/** graphql-ws's per-socket `extra` as its hooks see it: the socket and what is set so far. */
type SocketState = Partial<SocketExtra> & { socket: WebSocket };

/** What an operation carries from `onSubscribe` to `subscribe`/`execute`. */
type OperationContextValue = StreamingOperation & {
  operation: LiveOperation;
  caller: Caller;
  socket: WebSocket;
  /** The client's id of the operation, for the `next` messages written directly. */
  id: string;
};

/**
 * A result the router formatted already, typed as graphql-ws types results
 * (with GraphQLError instances): `onNext` hands it on unchanged.
 */
function formatted(result: FormattedExecutionResult): ExecutionResult {
  return result as unknown as ExecutionResult;
}

/**
 * graphql-ws's `next` message for the client operation `id`, around a
 * payload already serialised: one event goes to many sockets and is
 * serialised once for all of them. The envelope is graphql-ws's own
 * (`stringifyMessage` validates it); only the payload is spliced in.
 */
function nextMessage(id: string): (payloadJson: string) => string {
  const envelope = stringifyMessage<MessageType.Next>({ id, type: MessageType.Next, payload: {} });
  const empty = '{}}';
  if (!envelope.endsWith(`"payload":${empty}`)) {
    throw new Error(`Unexpected graphql-ws message layout: ${envelope}`);
  }
  const prefix = envelope.slice(0, -empty.length);
  return (payloadJson) => `${prefix}${payloadJson}}`;
}

/**
 * Serves graphql-ws (`graphql-transport-ws`) on the router's `path`. The
 * access token comes in the `connection_init` payload (`authorization:
 * "Bearer …"`); a bad one closes the socket with 4401 and the reason, and
 * the socket is closed with 4401 "Token expired" when the token runs out,
 * so clients reconnect with a fresh one, or 4401 "Session revoked" the
 * moment its session is signed out (clients must sign in again). Every operation runs through the
 * one operation path and gets its own access log line.
 */
export function serveWebSocket(httpServer: Server, path: string, deps: WebSocketTransportDeps) {
  const { metrics, logger, log } = deps;
  const wsServer = new WebSocketServer({
    server: httpServer,
    path,
    verifyClient: deps.verifyClient,
  });
  const labels = { transport: 'ws' };
  // Every client of a pipeline receives the same event object: serialise it once.
  const cache = new WeakMap<object, string>();
  const serialised = (event: object) => {
    let json = cache.get(event);
    if (json === undefined) {
      json = JSON.stringify(event);
      cache.set(event, json);
    }
    return json;
  };

  /**
   * Starts the idle countdown of a socket without operations: a socket that
   * signed in (or stayed anonymous) and never subscribes otherwise holds a
   * connection, memory and a presence entry for as long as the client likes.
   */
  const armIdle = (extra: SocketState) => {
    clearTimeout(extra.idleTimer);
    extra.idleTimer = setTimeout(
      () => extra.socket.close(IDLE_CLOSE_CODE, IDLE_CLOSE_REASON),
      deps.idleTimeoutMs,
    );
  };

  /** Logs operation `id` of a socket with `status` and forgets it; its last one arms the idle timer. */
  const finish = (extra: SocketState, id: string, status: number) => {
    const operations = extra.operations;
    const operation = operations?.get(id);
    if (!operations || !operation) return;
    operations.delete(id);
    log.finish(operation.record, status);
    if (operations.size === 0 && extra.socket.readyState === extra.socket.OPEN) armIdle(extra);
  };

  /** Starts an admitted subscription on the engine; its events go straight to the socket. */
  const subscribe = (value: Extract<OperationContextValue, { kind: 'subscription' }>) => {
    const { subscription, socket, id, operation } = value;
    let dropped = false;
    const dropSlowClient = () => {
      if (dropped) return;
      dropped = true;
      metrics.slowClientsDropped.inc(labels);
      socket.close(TRY_AGAIN_LATER_CLOSE_CODE, 'Slow consumer');
      // A client that stopped reading will not read the close frame either.
      setTimeout(() => socket.terminate(), 1_000).unref();
    };
    let events: AsyncIterableIterator<SubscriptionEvent>;
    try {
      events = deps.engine.subscribe({
        ...subscription,
        caller: value.caller,
        transport: 'ws',
        onSlowConsumer: dropSlowClient,
      });
    } catch (cause) {
      // The engine refuses new subscriptions while the router shuts down.
      const error = deps.formatError({ message: String(cause) }, cause);
      recordErrorCode(error.extensions?.code, operation.record);
      operation.status = 503;
      return formatted({ errors: [error] });
    }
    operation.status = 200;
    // Hot path: rather than yielding events to graphql-ws (which serialises
    // each once per socket and waits for each write), write the `next`
    // message directly; the socket's own buffer is the bound on a slow
    // client. graphql-ws still sends `complete` when the iterator ends.
    const message = nextMessage(id);
    const written = clientEvents(events, {
      write: (event) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(message(serialised(event)));
        if (socket.bufferedAmount > deps.maxSocketBufferBytes) dropSlowClient();
      },
    });
    // With `write`, it yields nothing.
    return written as AsyncIterableIterator<never>;
  };

  /** A subscription goes to the engine; a query or mutation already ran in Apollo. */
  const start = (value: OperationContextValue) =>
    value.kind === 'subscription' ? subscribe(value) : formatted(value.result);

  const cleanup = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      connectionInitWaitTimeout: deps.initTimeoutMs,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        try {
          const auth = await deps.authenticate(
            authorizationFromConnectionParams(ctx.connectionParams),
          );
          ctx.extra.auth = auth;
          ctx.extra.operations = new Map();
          // A socket outlives no token and no session.
          ctx.extra.unwatch = deps.sessions.watch(
            { sessionId: auth.caller.sessionId, expiresAt: auth.expiresAt },
            (why) =>
              socket.close(
                CloseCode.Unauthorized,
                why === 'TOKEN_EXPIRED' ? 'Token expired' : 'Session revoked',
              ),
          );
          // The socket may have closed while the token was being checked;
          // onClose has run then, and nothing would ever release it.
          if (socket.readyState === socket.OPEN) {
            ctx.extra.presenceId = deps.presence.register(auth.caller);
            ctx.extra.counted = true;
            metrics.clientSockets.inc(labels);
            armIdle(ctx.extra);
          }
          return true;
        } catch (error) {
          const reason = error instanceof UserError ? error.message : 'Unauthorized';
          socket.close(CloseCode.Unauthorized, reason.slice(0, 120));
          if (!(error instanceof UserError))
            logger.error({ err: error }, 'socket authentication failed');
          return false;
        }
      },
      // Every close ends up here (onDisconnect only follows an acknowledged
      // init, so a socket closed during the token check would never leave it).
      onClose: (ctx) => {
        ctx.extra.unwatch?.();
        clearTimeout(ctx.extra.idleTimer);
        deps.presence.release(ctx.extra.presenceId);
        if (ctx.extra.counted) metrics.clientSockets.dec(labels);
        ctx.extra.counted = false;
        // What is still open ends with the socket: a subscription as it
        // should, anything else before the client had its answer.
        for (const [id, operation] of ctx.extra.operations ?? []) {
          finish(
            ctx.extra,
            id,
            operation.kind === 'subscription' ? operation.status : CLIENT_CLOSED_REQUEST,
          );
        }
      },
      onSubscribe: async (ctx, id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
        const caller = ctx.extra.auth?.caller ?? ANONYMOUS;
        const record = newRequestRecord(randomUUID(), 'ws', deps.clientAddress(ctx.extra.request));
        const operation: LiveOperation = { record, kind: 'pending', status: CLIENT_CLOSED_REQUEST };
        ctx.extra.operations?.set(id, operation);
        clearTimeout(ctx.extra.idleTimer);
        const outcome = await deps.run(payload, { caller, record });
        const { socket } = ctx.extra;
        const schema = deps.engine.planner.apiSchema;
        if (outcome.kind === 'subscription') {
          operation.kind = 'subscription';
          const { document, operationName, variables } = outcome.subscription;
          const contextValue: OperationContextValue = { ...outcome, operation, caller, socket, id };
          return { schema, document, operationName, variableValues: variables, contextValue };
        }
        operation.kind = 'result';
        operation.status = outcome.status;
        if (!('data' in outcome.result) || !outcome.document) {
          // Refused before execution: graphql-ws's `error` message. The
          // client has its answer unless it completed or left meanwhile.
          const answered = id in ctx.subscriptions && socket.readyState === socket.OPEN;
          finish(ctx.extra, id, answered ? outcome.status : CLIENT_CLOSED_REQUEST);
          return asGraphQLErrors(outcome.result.errors ?? []);
        }
        const contextValue: OperationContextValue = {
          kind: 'result',
          result: outcome.result,
          operation,
          caller,
          socket,
          id,
        };
        return { schema, document: outcome.document, contextValue };
      },
      // graphql-ws calls `subscribe` or `execute` by the document's
      // operation type; either way the outcome of `onSubscribe` decides.
      subscribe: (args) => start(args.contextValue as OperationContextValue),
      execute: (args) => start(args.contextValue as OperationContextValue),
      // Results are formatted by the router already; graphql-ws would call
      // `toJSON()` on their errors.
      onNext: (_ctx, _id, _payload, _args, result) => result,
      onComplete: (ctx, id) => {
        const operation = ctx.extra.operations?.get(id);
        if (!operation) return;
        // graphql-ws drops the operation from `subscriptions` when the client
        // completes it; a query completed that way never had its answer.
        const answered = operation.kind === 'subscription' || id in ctx.subscriptions;
        finish(ctx.extra, id, answered ? operation.status : CLIENT_CLOSED_REQUEST);
      },
      onError: (_ctx, _id, _payload, errors) => {
        logger.debug({ errors: errors.map((e) => e.message) }, 'operation refused');
      },
    },
    wsServer,
  );

  return {
    /** Closes every client socket (after the engine completed their subscriptions). */
    async close() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
