import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import express, { type Express } from 'express';
import { Agent } from 'undici';
import {
  createCallerSigner,
  createTokenVerifier,
  publicJwks,
  type KeyMaterial,
} from '@arcadia/auth';
import { createMetricsServer } from '@arcadia/lifecycle';
import type { Logger } from '@arcadia/observability';
import { createPresence } from '@arcadia/presence';
import { createRedisConnection } from '@arcadia/redis';
import { createPersistedQueries } from './apq.js';
import { createAuthenticator } from './auth.js';
import { createSessionGuard } from './sessions.js';
import {
  clientAddressResolver,
  connectionLimiter,
  httpServerOptions,
} from './connection-limits.js';
import type { RouterConfig } from './env.js';
import { deduplicatingExecutor } from './dedupe.js';
import { createPlanExecutor, Planning, servingGateway } from './execution/index.js';
import { createFormatError, httpErrorHandler, notFound } from './errors.js';
import { queryLimits } from './limits.js';
import { createRouterMetrics } from './metrics.js';
import { nullPropagationPlugin } from './null-propagation.js';
import { createOperationRunner, streamingOperationsPlugin } from './operations.js';
import { trackSocketPresence } from './presence.js';
import { checkSubgraphs } from './readiness.js';
import { anonymousContextOf, createContextBuilder, type RouterContext } from './request-context.js';
import { createOperationLog, requestRecordPlugin } from './request-log.js';
import { CallerForwardingDataSource, createSubgraphFetcher } from './subgraph-data-source.js';
import { SubscriptionEngine } from './subscriptions/engine.js';
import { createSubscriptionMetrics } from './subscriptions/metrics.js';
import { SubscriptionPlanner } from './subscriptions/planner.js';
import { graphqlOverHttp } from './transports/http.js';
import { sseHandler } from './transports/sse.js';
import { serveWebSocket } from './transports/ws.js';

/** A router that is built but not listening, so tests can start it on port 0. */
export interface Router {
  readonly app: Express;
  readonly httpServer: Server;
  /** Starts listening; resolves to the GraphQL URL (`http://host:port/graphql`). */
  listen(port: number, host?: string): Promise<string>;
  /**
   * Serves `/metrics` on a port of its own (METRICS_HOST by default);
   * resolves to its URL (`http://host:port/metrics`). The public port has no `/metrics`.
   */
  listenMetrics(port: number, host?: string): Promise<string>;
  /**
   * Drains open requests, stops the gateway, takes this instance's sockets
   * out of presence and closes Redis. Safe to call twice.
   */
  close(): Promise<void>;
}

/** What {@link createRouter} needs; configuration is read by the caller (main.ts or a test). */
export interface RouterDeps {
  config: RouterConfig;
  /** The federation 2 supergraph SDL to serve. */
  supergraphSdl: string;
  /** JWT keys verify access tokens (unless JWKS_URL is set); internal secrets sign the caller header. */
  keys: KeyMaterial;
  logger: Logger;
}

/** Where `/` and `/graphql` both lead: Sandbox for browsers, GraphQL for everything else. */
const GRAPHQL_PATHS = ['/', '/graphql'];

function displayUrl(host: string, port: number): string {
  const shown =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}/graphql`;
}

/**
 * Builds the Arcadia router: @apollo/gateway over `supergraphSdl`, served by
 * Apollo Server on `/graphql` (and `/`) with JWT auth, signed caller
 * forwarding, operation limits, Redis-backed APQ, CORS, `/health` and
 * `/ready`, and `/metrics` on a listener of its own. The gateway is loaded
 * before this resolves; nothing listens until {@link Router.listen} (and
 * {@link Router.listenMetrics}).
 */
export async function createRouter(deps: RouterDeps): Promise<Router> {
  const { config, supergraphSdl, keys, logger } = deps;
  const metrics = createRouterMetrics();
  const verifier = config.JWKS_URL
    ? createTokenVerifier({ jwksUrl: config.JWKS_URL })
    : createTokenVerifier({ jwks: publicJwks(keys.jwtKeys) });
  // One context builder and one access log (and, below, one authentication) for every transport.
  const signCaller = createCallerSigner(keys.internalSecrets, {
    connectionTtlSeconds: config.SUBGRAPH_SOCKET_SIGNATURE_SECONDS,
  });
  const buildContext = createContextBuilder(signCaller);
  const log = createOperationLog({ logger, metrics });
  // Plans subscriptions with the gateway's planner; built before Apollo, whose pipeline admits them.
  const planning = new Planning(supergraphSdl);
  const planner = new SubscriptionPlanner(planning);

  // name → GraphQL URL of every subgraph the gateway talks to (for /ready).
  const subgraphs = new Map<string, string>();
  // name → its data source, for the router's plan executor and the subscription engine's entity fetches.
  const dataSources = new Map<string, CallerForwardingDataSource>();
  // The HTTP client of every subgraph fetch: keep-alive connections pooled
  // per subgraph origin, without a cap (as Node's fetch), closed with the router.
  const subgraphClient = new Agent();
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger: logger.child({ component: 'gateway' }),
    buildService: ({ name, url }) => {
      const target = config.SUBGRAPH_URLS[name] ?? url;
      if (!target) {
        throw new Error(`Subgraph "${name}" has no URL; set SUBGRAPH_URLS=${name}=http://…`);
      }
      subgraphs.set(name, target);
      const fetcher = createSubgraphFetcher({
        serviceName: name,
        timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
        metrics,
        logger,
        dispatcher: subgraphClient,
      });
      const sharedFetches = { service: name };
      const dataSource = new CallerForwardingDataSource(
        {
          name,
          url: target,
          fetcher,
          ...(config.DEDUPLICATE_INFLIGHT
            ? {
                deduplicate: {
                  onShared: () => metrics.deduplicatedSubgraphFetches.inc(sharedFetches),
                },
              }
            : {}),
          ...(config.SUBGRAPH_BATCH_MAX > 1
            ? {
                batch: {
                  maxSize: config.SUBGRAPH_BATCH_MAX,
                  maxLength: config.SUBGRAPH_BATCH_MAX_BYTES,
                  onBatch: (size: number) => metrics.subgraphBatchSize.observe(sharedFetches, size),
                },
              }
            : {}),
        },
        signCaller,
      );
      dataSources.set(name, dataSource);
      return dataSource;
    },
  });

  // Fail fast instead of queueing while Redis is away: APQ registrations are
  // then counted in this process alone, and presence writes are fire and
  // forget (a lost connect is redone by the next heartbeat, a lost
  // disconnect lapses after the ttl). Outages are logged once by the factory.
  const redis = createRedisConnection({
    url: config.REDIS_URL,
    name: 'router',
    use: 'commands',
    logger,
    commandTimeoutMs: 1_000,
  });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createHttpServer(
    httpServerOptions({
      headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    }),
    app,
  );
  // One count per client address for HTTP and WebSocket connections alike.
  const clientAddress = clientAddressResolver(config.TRUSTED_PROXIES);
  const connections = connectionLimiter(config.MAX_CONNECTIONS_PER_CLIENT, clientAddress);
  app.use(connections.middleware);
  const limits = queryLimits({
    maxDepth: config.MAX_DEPTH,
    maxAliases: config.MAX_ALIASES,
    maxCost: config.MAX_COST,
    maxTokens: config.MAX_TOKENS,
    maxRootFields: config.MAX_ROOT_FIELDS,
    maxDirectives: config.MAX_DIRECTIVES,
    maxIntrospectionDepth: config.MAX_INTROSPECTION_DEPTH,
    blockFieldSuggestions: !config.INTROSPECTION,
  });

  // Persisted queries in a cache Redis of their own (APQ_REDIS_URL), behind an LRU.
  const apq = createPersistedQueries({ config, redis, logger });
  const formatError = apq.formatError(createFormatError(logger));
  const apollo = new ApolloServer<RouterContext>({
    gateway: servingGateway(gateway, (gatewayExecutor) => {
      const executor =
        config.EXECUTOR === 'arcadia'
          ? createPlanExecutor({
              supergraphSdl,
              dataSources,
              planning,
              anonymousContext: (context) =>
                anonymousContextOf(context as RouterContext, signCaller),
            })
          : gatewayExecutor;
      return config.DEDUPLICATE_INFLIGHT
        ? deduplicatingExecutor(executor, () => metrics.deduplicatedOperations.inc())
        : executor;
    }),
    nodeEnv: config.NODE_ENV,
    introspection: config.INTROSPECTION,
    hideSchemaDetailsFromClientErrors: !config.INTROSPECTION,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // runService owns the signals (@arcadia/lifecycle); Apollo must not race it.
    stopOnTerminationSignals: false,
    logger: logger.child({ component: 'apollo' }),
    persistedQueries: apq.options,
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      requestRecordPlugin(),
      // Before the streaming plugin: a refused subscription is not admitted.
      apq.plugin,
      streamingOperationsPlugin(planner),
      nullPropagationPlugin(formatError),
      ...limits.plugins,
    ],
  });

  try {
    await apollo.start();
  } catch (error) {
    await subgraphClient.close();
    await redis.close();
    await apq.close();
    throw error;
  }
  const subscriptionMetrics = createSubscriptionMetrics(metrics.registry);
  const engine = new SubscriptionEngine({
    planner,
    dataSources,
    subgraphUrls: subgraphs,
    signCaller,
    // A fifth of the signature's life, and at least 5 s, is left for the
    // move (two overlaps) and for clock skew and second-rounded expiry.
    renewConnectionsAfterMs:
      config.SUBGRAPH_SOCKET_SIGNATURE_SECONDS * 1000 -
      Math.max(config.SUBGRAPH_SOCKET_SIGNATURE_SECONDS * 200, 5_000),
    buildContext,
    anonymousContext: (context: RouterContext) => anonymousContextOf(context, signCaller),
    formatError,
    logger: logger.child({ component: 'subscriptions' }),
    metrics: subscriptionMetrics,
    retry: {
      attempts: config.SUBSCRIPTION_RETRY_ATTEMPTS,
      baseDelayMs: config.SUBSCRIPTION_RETRY_BASE_MS,
      maxDelayMs: config.SUBSCRIPTION_RETRY_MAX_MS,
    },
    clientQueueCapacity: config.SUBSCRIPTION_CLIENT_BUFFER,
  });
  // Created late, past what can fail: it starts the heartbeat timer.
  const presence = trackSocketPresence(
    createPresence({
      redis,
      prefix: config.PRESENCE_PREFIX,
      ttlSeconds: config.PRESENCE_TTL_SECONDS,
    }),
    { ttlSeconds: config.PRESENCE_TTL_SECONDS, logger: logger.child({ component: 'presence' }) },
  );
  // Sign-out and refresh-token reuse end a session's access on every transport within a second.
  const sessions = createSessionGuard({
    redis,
    redisUrl: config.REDIS_URL,
    prefix: config.SESSION_REVOCATION_PREFIX,
    cacheMs: config.SESSION_CHECK_CACHE_MS,
    logger: logger.child({ component: 'sessions' }),
  });
  const authenticate = createAuthenticator(verifier, sessions);
  const run = createOperationRunner({ apollo, buildContext, formatError });
  const streaming = {
    run,
    authenticate,
    engine,
    formatError,
    metrics: subscriptionMetrics,
    presence,
    sessions,
  };
  const webSocket = serveWebSocket(httpServer, '/graphql', {
    ...streaming,
    log,
    logger,
    clientAddress,
    maxSocketBufferBytes: config.SUBSCRIPTION_SOCKET_BUFFER_BYTES,
    initTimeoutMs: config.WS_INIT_TIMEOUT_MS,
    idleTimeoutMs: config.WS_IDLE_TIMEOUT_MS,
    verifyClient: connections.verifyClient,
  });

  const unknown = Object.keys(config.SUBGRAPH_URLS).filter((name) => !subgraphs.has(name));
  if (unknown.length) {
    logger.warn({ unknown }, 'SUBGRAPH_URLS names subgraphs the supergraph does not have');
  }

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const { up, down } = await checkSubgraphs(subgraphs, config.READY_TIMEOUT_MS);
    if (down.length) {
      res.status(503).json({ status: 'unavailable', up, down });
    } else {
      res.json({ status: 'ready', up });
    }
  });

  app.all(
    GRAPHQL_PATHS,
    graphqlOverHttp({
      apollo,
      authenticate,
      buildContext,
      log,
      clientAddress,
      corsOrigins: config.CORS_ORIGINS,
      bodyLimit: config.BODY_LIMIT,
      eventStream: sseHandler(streaming),
      ...(config.DEDUPLICATE_INFLIGHT
        ? {
            sharedResponses: {
              // A shared response is also a query that did not execute.
              onShared: () => {
                metrics.deduplicatedOperations.inc();
                metrics.deduplicatedResponses.inc();
              },
            },
          }
        : {}),
    }),
  );
  app.use(notFound);
  app.use(httpErrorHandler({ logger, bodyLimit: config.BODY_LIMIT }));

  const metricsServer = createMetricsServer({ metrics: metrics.registry, logger });

  let closing: Promise<void> | undefined;
  return {
    app,
    httpServer,
    async listen(port, host = config.HOST) {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const url = displayUrl(host, (httpServer.address() as AddressInfo).port);
      logger.info({ url, subgraphs: [...subgraphs.keys()] }, 'router listening');
      return url;
    },
    async listenMetrics(port, host = config.METRICS_HOST) {
      return `${await metricsServer.listen(port, host)}/metrics`;
    },
    close() {
      closing ??= (async () => {
        // Subscriptions complete first (clients see `complete`), then their
        // sockets close; then in-flight requests drain and the gateway stops.
        await engine.close();
        await webSocket.close();
        await apollo.stop();
        await subgraphClient.close();
        // Sockets released above have their presence writes queued; this
        // releases any left, stops the heartbeat and waits for the writes,
        // which Redis then receives before QUIT.
        await presence.close();
        await sessions.close();
        await redis.close();
        await apq.close();
        // Last, so that a final scrape still sees the shutdown.
        await metricsServer.close();
      })();
      return closing;
    },
  };
}
