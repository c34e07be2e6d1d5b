import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import type { RequestHandler } from 'express';
import { GraphQLError, type ExecutionArgs, type GraphQLFormattedError } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/express';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { ANONYMOUS, bearerToken, type Caller, type createTokenVerifier } from '@arcadia/auth';
import { UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import type { SocketPresence } from '../presence.js';
import { lazySignature, newRequestRecord, type RouterContext } from '../request-context.js';
import type { SubscribeArgs, SubscriptionEngine } from './engine.js';
import type { SubscriptionMetrics } from './metrics.js';
import type { PreparedOperation, createPreparer } from './prepare.js';

/** Close code for a socket whose access token expired; clients reconnect with a fresh one. */
export const TOKEN_EXPIRED_CLOSE_CODE = 4401;
/** Close code for a client cut off for reading too slowly (non-fatal: clients may retry). */
export const SLOW_CONSUMER_CLOSE_CODE = 1013;

/** What both streaming transports need from the router. */
export interface TransportDeps {
  engine: SubscriptionEngine;
  prepare: ReturnType<typeof createPreparer>;
  verifier: ReturnType<typeof createTokenVerifier>;
  signCaller: (caller: Caller) => Promise<string>;
  /** Runs queries and mutations that arrive over a streaming transport. */
  apollo: ApolloServer<RouterContext>;
  metrics: SubscriptionMetrics;
  logger: Logger;
  /** Bytes a client's socket may have queued before it counts as too slow. */
  maxSocketBufferBytes: number;
  /** Marks signed-in users online while they hold a socket or SSE stream here. */
  presence: SocketPresence;
}

interface Authenticated {
  caller: Caller;
  /** When the token stops being valid; null for anonymous callers. */
  expiresAt: Date | null;
}

async function authenticate(
  verifier: TransportDeps['verifier'],
  authorization: unknown,
): Promise<Authenticated> {
  const token = bearerToken(typeof authorization === 'string' ? authorization : undefined);
  if (token === null) return { caller: ANONYMOUS, expiresAt: null };
  const { expiresAt, ...caller } = await verifier.verify(token);
  return { caller, expiresAt };
}

function routerContext(caller: Caller, signCaller: TransportDeps['signCaller']): RouterContext {
  const requestId = randomUUID();
  return {
    caller,
    requestId,
    record: newRequestRecord(requestId),
    signedCaller: lazySignature(() => signCaller(caller)),
  };
}

/** Runs a query or mutation that came over a streaming transport through Apollo Server. */
async function executeThroughApollo(
  deps: TransportDeps,
  prepared: Extract<PreparedOperation, { kind: 'query' | 'mutation' }>,
  caller: Caller,
) {
  const response = await deps.apollo.executeOperation(
    {
      query: prepared.source,
      variables: prepared.variables,
      ...(prepared.operationName ? { operationName: prepared.operationName } : {}),
    },
    { contextValue: routerContext(caller, deps.signCaller) },
  );
  if (response.body.kind !== 'single') {
    return { errors: [{ message: 'Incremental delivery is not supported here.' }] };
  }
  return response.body.singleResult;
}

function toGraphQLErrors(errors: readonly GraphQLFormattedError[]): GraphQLError[] {
  return errors.map(
    (e) =>
      new GraphQLError(e.message, {
        ...(e.path ? { path: e.path } : {}),
        ...(e.extensions ? { extensions: e.extensions } : {}),
      }),
  );
}

/** What graphql-ws keeps per socket. */
type SocketExtra = {
  socket: WebSocket;
  auth?: Authenticated;
  expiryTimer?: NodeJS.Timeout;
  /** The socket's id in presence; null when its caller is not tracked. */
  presenceId?: string | null;
  /** Whether the socket is counted in the client-socket gauge (until it closes). */
  counted?: boolean;
};

/** What an operation carries from `onSubscribe` to `subscribe`/`execute`. */
type OperationContextValue = {
  prepared: PreparedOperation;
  caller: Caller;
  socket: WebSocket;
  /** The client's operation id, for the `next` frames written directly. */
  id: string;
};

/**
 * Serves graphql-ws (`graphql-transport-ws`) on the router's `/graphql`. The
 * access token comes in the `connection_init` payload (`authorization:
 * "Bearer …"`); a bad one closes the socket with 4401 and the reason, and
 * the socket is closed with 4401 "Token expired" when the token runs out,
 * so clients reconnect with a fresh one.
 */
export function serveWebSocket(httpServer: Server, path: string, deps: TransportDeps) {
  const { metrics, logger } = deps;
  const wsServer = new WebSocketServer({ server: httpServer, path });
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

  const cleanup = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        // Some clients (Apollo Explorer/Sandbox among them, depending on settings)
        // nest the request headers under `headers`.
        const nested =
          params.headers && typeof params.headers === 'object'
            ? (params.headers as Record<string, unknown>)
            : {};
        const authorization =
          params.authorization ??
          params.Authorization ??
          nested.authorization ??
          nested.Authorization;
        try {
          const auth = await authenticate(deps.verifier, authorization);
          ctx.extra.auth = auth;
          if (auth.expiresAt) {
            const ms = Math.min(auth.expiresAt.getTime() - Date.now(), 2 ** 31 - 1);
            ctx.extra.expiryTimer = setTimeout(
              () => {
                ctx.extra.socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'Token expired');
              },
              Math.max(ms, 0),
            );
          }
          // The socket may have closed while the token was being checked;
          // onClose has run then, and nothing would ever release it.
          if (ctx.extra.socket.readyState === ctx.extra.socket.OPEN) {
            ctx.extra.presenceId = deps.presence.register(auth.caller);
            ctx.extra.counted = true;
            metrics.clientSockets.inc(labels);
          }
          return true;
        } catch (error) {
          const reason = error instanceof UserError ? error.message : 'Unauthorized';
          ctx.extra.socket.close(TOKEN_EXPIRED_CLOSE_CODE, reason.slice(0, 120));
          return false;
        }
      },
      // Every close ends up here (onDisconnect only follows an acknowledged
      // init, so a socket closed during the token check would never leave it).
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiryTimer);
        deps.presence.release(ctx.extra.presenceId);
        if (ctx.extra.counted) metrics.clientSockets.dec(labels);
        ctx.extra.counted = false;
      },
      onSubscribe: (ctx, id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const prepared = deps.prepare(payload);
        if (prepared.kind === 'errors') return toGraphQLErrors(prepared.errors);
        const contextValue: OperationContextValue = {
          prepared,
          caller: ctx.extra.auth?.caller ?? ANONYMOUS,
          socket: ctx.extra.socket,
          id,
        };
        return {
          schema: deps.engine.planner.apiSchema,
          document: prepared.document,
          variableValues: prepared.variables,
          operationName: prepared.operationName,
          contextValue,
        };
      },
      subscribe: (args) => {
        const { prepared, caller, socket, id } = args.contextValue as OperationContextValue;
        if (prepared.kind !== 'subscription')
          return { errors: [new GraphQLError('Not a subscription.')] };
        let dropped = false;
        const dropSlowClient = () => {
          if (dropped) return;
          dropped = true;
          metrics.slowClientsDropped.inc(labels);
          socket.close(SLOW_CONSUMER_CLOSE_CODE, 'Slow consumer');
          // A client that stopped reading will not read the close frame either.
          setTimeout(() => socket.terminate(), 1_000).unref();
        };
        const events = deps.engine.subscribe({
          ...prepared,
          caller,
          transport: 'ws',
          onSlowConsumer: dropSlowClient,
        } satisfies SubscribeArgs);
        // Hot path: one event goes to many sockets. Rather than yielding it to
        // graphql-ws (which serialises it once per socket and waits for each
        // write), serialise it once and write the `next` frame directly; the
        // socket's own buffer is the bound on a slow client. graphql-ws still
        // sends `complete` when this iterator ends.
        const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
        const iterator: AsyncIterableIterator<never> = {
          next: async () => {
            for (;;) {
              const result = await events.next();
              if (result.done) return result as IteratorResult<never>;
              if (socket.readyState !== socket.OPEN) continue;
              socket.send(`${prefix}${serialised(result.value)}}`);
              if (socket.bufferedAmount > deps.maxSocketBufferBytes) dropSlowClient();
            }
          },
          return: async () => {
            await events.return?.();
            return { done: true, value: undefined };
          },
          throw: async () => {
            await events.return?.();
            return { done: true, value: undefined };
          },
          [Symbol.asyncIterator]() {
            return this;
          },
        };
        return iterator;
      },
      execute: async (args) => {
        const { prepared, caller } = args.contextValue as OperationContextValue;
        if (prepared.kind !== 'query' && prepared.kind !== 'mutation') {
          return { errors: [new GraphQLError('Not a query or mutation.')] };
        }
        return (await executeThroughApollo(deps, prepared, caller)) as never;
      },
      onError: (_ctx, _id, _payload, errors) => {
        logger.debug({ errors: errors.map((e) => e.message) }, 'subscription refused');
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

/**
 * Serves subscriptions (and queries and mutations) over Server-Sent Events,
 * GraphQL-over-SSE "distinct connections" mode, for clients that cannot
 * hold a WebSocket: `POST /graphql` with `Accept: text/event-stream`, the
 * token in the usual Authorization header.
 */
export function sseHandler(deps: TransportDeps): RequestHandler {
  const labels = { transport: 'sse' };
  const handler = createHandler<OperationContextValue & { close: () => void }>({
    onSubscribe: async (req, params) => {
      let auth: Authenticated;
      try {
        auth = await authenticate(deps.verifier, req.headers.get('authorization'));
      } catch (error) {
        const message = error instanceof UserError ? error.message : 'Unauthorized';
        return [
          JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }),
          {
            status: 401,
            statusText: 'Unauthorized',
            headers: { 'content-type': 'application/json' },
          },
        ];
      }
      const prepared = deps.prepare(params);
      if (prepared.kind === 'errors') return { errors: toGraphQLErrors(prepared.errors) };
      const raw = req.raw as { res?: { destroy(): void } } | undefined;
      return {
        schema: deps.engine.planner.apiSchema,
        document: prepared.document,
        variableValues: prepared.variables,
        operationName: prepared.operationName,
        contextValue: {
          prepared,
          caller: auth.caller,
          socket: undefined as never,
          close: () => raw?.res?.destroy(),
        },
      };
    },
    subscribe: (args) => {
      const { prepared, caller, close } = args.contextValue;
      if (prepared.kind !== 'subscription')
        return { errors: [new GraphQLError('Not a subscription.')] };
      deps.metrics.clientSockets.inc(labels);
      const events = deps.engine.subscribe({
        ...prepared,
        caller,
        transport: 'sse',
        onSlowConsumer: () => {
          deps.metrics.slowClientsDropped.inc(labels);
          close();
        },
      });
      // A distinct-connections stream is one connection per subscription:
      // each counts as a socket of its user while it is open.
      const presenceId = deps.presence.register(caller);
      // Not an async generator: its return() would wait for the next event,
      // so a client that hangs up would hold its upstream until then.
      let counted = true;
      const uncount = () => {
        if (counted) {
          deps.metrics.clientSockets.dec(labels);
          deps.presence.release(presenceId);
        }
        counted = false;
      };
      return {
        next: async () => {
          const result = await events.next().catch((error: unknown) => {
            uncount();
            throw error;
          });
          if (result.done) uncount();
          return result as IteratorResult<never>;
        },
        return: async () => {
          uncount();
          await events.return?.();
          return { done: true, value: undefined };
        },
        // graphql-sse only ends what looks like an async generator (it needs throw()).
        throw: async () => {
          uncount();
          await events.return?.();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    },
    execute: async (args) => {
      const { prepared, caller } = args.contextValue;
      if (prepared.kind !== 'query' && prepared.kind !== 'mutation') {
        return { errors: [new GraphQLError('Not a query or mutation.')] };
      }
      return (await executeThroughApollo(deps, prepared, caller)) as never;
    },
  });
  return (req, res, next) => {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) return next();
    // graphql-sse reaches the response through the request for slow-consumer cut-offs.
    (req as unknown as { res: typeof res }).res = res;
    handler(req, res).catch(next);
  };
}
