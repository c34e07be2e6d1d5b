import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import express, { type Express } from 'express';
import {
  GraphQLError,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import {
  CALLER_HEADER,
  SOCKET_OPERATION,
  createCallerVerifier,
  type Caller,
  type CallerBinding,
  type SignedRequest,
} from '@arcadia/auth';
import { ErrorCode, maskError, UserError } from '@arcadia/errors';
import { createMetricsServer } from '@arcadia/lifecycle';
import { createMetricsRegistry, type Logger, type Registry } from '@arcadia/observability';
import { withArgumentChecks } from './arguments.js';

// Operations in one batch from the router: one subscription event's entity
// fetches for as many callers as receive it.
const MAX_BATCH = 1_000;
// A request id the router passes on (its own or its client's sane one).
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The GraphQL request of a GET: `variables` arrive as JSON text. */
function getRequest(query: Record<string, unknown>): SignedRequest {
  let variables: unknown;
  try {
    variables = typeof query.variables === 'string' ? JSON.parse(query.variables) : undefined;
  } catch {
    // Unparseable variables cannot match any signature; Apollo refuses them anyway.
    variables = query.variables;
  }
  return { query: query.query, operationName: query.operationName, variables };
}

/** What every subgraph context has: the verified caller, a request-scoped logger and id. */
export interface BaseContext {
  readonly caller: Caller;
  readonly logger: Logger;
  readonly requestId: string;
}

/** How a subgraph is put together; see {@link createSubgraphServer}. */
export interface SubgraphOptions<TContext extends BaseContext> {
  /** The subgraph's name in the supergraph, e.g. `accounts`. */
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext> | GraphQLResolverMap<TContext>[];
  /** Secrets the router signs the caller header with (any of them verifies). */
  internalSecrets: readonly string[];
  logger: Logger;
  /** Builds the per-request context (DataLoaders, a forked EntityManager, …). */
  context: (base: BaseContext) => TContext | Promise<TContext>;
  /** Throws when a store the subgraph needs does not answer; drives `/ready`. */
  readiness?: () => Promise<void>;
  /** Releases the subgraph's own resources after requests have drained. */
  onClose?: () => Promise<void>;
  /** Largest request body accepted, e.g. `1mb`. */
  bodyLimit?: string;
  /**
   * The registry `/metrics` serves, when the subgraph registers metrics of its
   * own domain in it; one is made (with the process's default metrics) otherwise.
   */
  metrics?: Registry;
}

/** A subgraph server that is built but not listening, so tests can start it on port 0. */
export interface SubgraphServer {
  readonly name: string;
  readonly app: Express;
  readonly httpServer: Server;
  readonly schema: GraphQLSchema;
  /** Starts HTTP and graphql-ws on one port; resolves to the GraphQL URL. */
  listen(port: number, host?: string): Promise<string>;
  /**
   * Serves `/metrics` on a port of its own (127.0.0.1 by default) and stops
   * serving it on the public port; resolves to its URL. runService calls it
   * when the subgraph's configuration has METRICS_PORT.
   */
  listenMetrics(port: number, host?: string): Promise<string>;
  /** Stops taking requests, drains open ones, closes sockets, then `onClose`. */
  close(): Promise<void>;
}

/**
 * Creates a federated subgraph: @apollo/subgraph schema served over HTTP
 * (`/graphql`) and graphql-ws (same path), refusing any request that does
 * not carry the router's signed caller header, with `/health` (alive),
 * `/ready` (stores answer) and `/metrics`: on the public port until
 * {@link SubgraphServer.listenMetrics} gives it a port of its own.
 */
export function createSubgraphServer<TContext extends BaseContext>(
  options: SubgraphOptions<TContext>,
): SubgraphServer {
  const { logger } = options;
  const verifyCaller = createCallerVerifier(options.internalSecrets);
  /**
   * The caller a signed header (HTTP, a socket operation, a batched
   * operation) stands for, or its refusal as a GraphQL error to answer with.
   */
  const callerOf = async (
    header: unknown,
    binding: CallerBinding,
  ): Promise<{ caller: Caller } | { refusal: GraphQLFormattedError }> => {
    try {
      const { signatureExpiresAt: _, ...caller } = await verifyCaller(
        typeof header === 'string' ? header : null,
        binding,
      );
      return { caller };
    } catch (error) {
      const e =
        error instanceof UserError
          ? error
          : new UserError(ErrorCode.UNAUTHENTICATED, 'Unauthenticated.');
      return {
        refusal: {
          message: e.message,
          extensions: { code: e.extensions.code, reason: e.extensions.reason },
        },
      };
    }
  };
  // Input-safety hook: every argument string is checked before any resolver runs (see arguments.ts).
  const schema = withArgumentChecks(
    buildSubgraphSchema([
      { typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> },
    ]),
  );
  const metrics = options.metrics ?? createMetricsRegistry(options.name);
  const app = express();
  app.disable('x-powered-by');
  const httpServer = createHttpServer(app);

  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer<
    Record<string, unknown>,
    { caller?: Caller; operationCallers?: Map<string, Caller> }
  >(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          const { signatureExpiresAt, ...caller } = await verifyCaller(
            ctx.connectionParams?.[CALLER_HEADER] as string | undefined,
            { audience: options.name, connection: true },
          );
          ctx.extra.caller = caller;
          // The signature admits the connection only while it is valid: a
          // captured header cannot hold a stream open past its expiry. The
          // router renews its sockets before then (and reconnects if not).
          const expiry = setTimeout(
            () => ctx.extra.socket.close(CloseCode.Unauthorized, 'Caller signature expired'),
            Math.max(0, signatureExpiresAt.getTime() - Date.now()),
          );
          expiry.unref();
          ctx.extra.socket.once('close', () => clearTimeout(expiry));
          return true;
        } catch {
          return false;
        }
      },
      // The router multiplexes many callers' subscriptions over one socket:
      // an operation may carry its own caller, signed for it (method WS).
      // Without one it runs as the socket's caller.
      onSubscribe: async (ctx, id, payload) => {
        const header = payload.extensions?.[CALLER_HEADER];
        if (header === undefined) return;
        const verified = await callerOf(header, {
          audience: options.name,
          method: SOCKET_OPERATION,
          request: {
            query: payload.query,
            operationName: payload.operationName,
            variables: payload.variables,
          },
        });
        if ('refusal' in verified) {
          const { message, extensions } = verified.refusal;
          return [new GraphQLError(message, { extensions })];
        }
        (ctx.extra.operationCallers ??= new Map()).set(id, verified.caller);
      },
      onComplete: (ctx, id) => {
        ctx.extra.operationCallers?.delete(id);
      },
      context: async (ctx, id) =>
        options.context({
          caller: ctx.extra.operationCallers?.get(id) ?? ctx.extra.caller!,
          logger: logger.child({ transport: 'ws' }),
          requestId: randomUUID(),
        }),
      onError: (_ctx, _id, _payload, errors) => {
        logger.warn({ errors: errors.map((e) => e.message) }, 'subscription error');
      },
    },
    wsServer,
  );

  const wsDrain: ApolloServerPlugin = {
    serverWillStart() {
      return Promise.resolve({
        async drainServer() {
          await wsCleanup.dispose();
        },
      });
    },
  };

  const apollo = new ApolloServer<TContext>({
    schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // runService (@arcadia/lifecycle) owns shutdown; Apollo re-raising the signal would look like a second Ctrl-C.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      wsDrain,
    ],
    formatError: (formatted, error) =>
      maskError(formatted, error, (original) =>
        logger.error({ err: original }, 'unexpected error'),
      ),
  });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: options.name });
  });
  app.get('/ready', async (_req, res) => {
    try {
      await options.readiness?.();
      res.json({ status: 'ready', service: options.name });
    } catch (error) {
      logger.warn({ err: error }, 'not ready');
      res.status(503).json({ status: 'unavailable', service: options.name });
    }
  });
  const metricsServer = createMetricsServer({ metrics, logger });
  // Until the metrics have their own port: a subgraph whose configuration
  // has no METRICS_PORT yet keeps them where scrapers found them so far.
  let publicMetrics = true;
  app.get('/metrics', async (_req, res, next) => {
    if (!publicMetrics) return next();
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  let started: Promise<void> | undefined;
  const start = () => (started ??= apollo.start().then(() => mountGraphql()));

  /**
   * A batch from the router: many operations in one POST (an array), each
   * carrying its own caller in `extensions["x-arcadia-caller"]`, signed for
   * that operation; each runs with a context of its own and answers in its
   * place in the array. The router batches the entity fetches of one
   * subscription event across the callers that receive it.
   */
  async function runBatch(operations: unknown[], requestIdHeader: string | undefined) {
    const requestId = requestIdHeader ?? randomUUID();
    // BAD_REQUEST is the protocol code GraphQL servers give malformed requests.
    const badRequest = (message: string) => ({
      errors: [{ message, extensions: { code: 'BAD_REQUEST' } }],
    });
    if (operations.length > MAX_BATCH) {
      return operations.map(() => badRequest(`A batch has at most ${MAX_BATCH} operations.`));
    }
    return Promise.all(
      operations.map(async (operation) => {
        if (typeof operation !== 'object' || operation === null) {
          return badRequest('Each operation must be an object.');
        }
        const request = operation as SignedRequest & { extensions?: Record<string, unknown> };
        const verified = await callerOf(request.extensions?.[CALLER_HEADER], {
          audience: options.name,
          method: 'POST',
          request,
        });
        if ('refusal' in verified) return { errors: [verified.refusal] };
        const { caller } = verified;
        if (typeof request.query !== 'string') {
          return badRequest('Each operation needs a query.');
        }
        // The router batches fetches of many operations: each has its own id.
        const ownId = request.extensions?.['x-request-id'];
        const operationId = typeof ownId === 'string' && REQUEST_ID.test(ownId) ? ownId : requestId;
        const contextValue = await options.context({
          caller,
          logger: logger.child({ requestId: operationId }),
          requestId: operationId,
        });
        const response = await apollo.executeOperation(
          {
            query: request.query,
            ...(typeof request.operationName === 'string'
              ? { operationName: request.operationName }
              : {}),
            ...(request.variables && typeof request.variables === 'object'
              ? { variables: request.variables as Record<string, unknown> }
              : {}),
          },
          { contextValue },
        );
        return response.body.kind === 'single'
          ? response.body.singleResult
          : badRequest('Incremental delivery is not batched.');
      }),
    );
  }

  function mountGraphql() {
    app.use(
      '/graphql',
      express.json({ limit: options.bodyLimit ?? '1mb' }),
      async (req, res, next) => {
        if (req.method === 'POST' && Array.isArray(req.body)) {
          res.json(await runBatch(req.body as unknown[], req.header('x-request-id')));
          return;
        }
        // GET carries the request in the query string, its variables as JSON text.
        const request =
          req.method === 'GET' ? getRequest(req.query) : (req.body as SignedRequest | undefined);
        const verified = await callerOf(req.header(CALLER_HEADER), {
          audience: options.name,
          method: req.method,
          request: request ?? {},
        });
        if ('refusal' in verified) {
          res.status(401).json({ errors: [verified.refusal] });
          return;
        }
        res.locals.caller = verified.caller;
        next();
      },
      expressMiddleware(apollo, {
        context: async ({ req, res }) => {
          const requestId = req.header('x-request-id') ?? randomUUID();
          return options.context({
            caller: res.locals.caller as Caller,
            logger: logger.child({ requestId }),
            requestId,
          });
        },
      }),
    );
  }

  return {
    name: options.name,
    app,
    httpServer,
    schema,
    async listen(port, host = '127.0.0.1') {
      await start();
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const url = `http://${host}:${address.port}/graphql`;
      logger.info({ url }, `${options.name} subgraph listening`);
      return url;
    },
    async listenMetrics(port, host = '127.0.0.1') {
      const url = `${await metricsServer.listen(port, host)}/metrics`;
      publicMetrics = false;
      return url;
    },
    async close() {
      if (started) await apollo.stop();
      else if (httpServer.listening) await new Promise((r) => httpServer.close(r));
      await options.onClose?.();
      await metricsServer.close();
    },
  };
}

export { DateTime } from './date-time.js';
export { BIDI_CONTROLS, CONTROL_CHARS, isUuid, isVisible, parseInput } from './input.js';
