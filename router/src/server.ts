import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express } from 'express';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { Redis } from 'ioredis';
import {
  createCallerSigner,
  createTokenVerifier,
  publicJwks,
  type Caller,
  type KeyMaterial,
} from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import { createPresence } from '@arcadia/presence';
import { corsMiddleware } from './cors.js';
import type { RouterConfig } from './env.js';
import { createFormatError, httpErrorHandler, notFound } from './errors.js';
import { queryLimits } from './limits.js';
import { createRouterMetrics } from './metrics.js';
import { trackSocketPresence } from './presence.js';
import { checkSubgraphs } from './readiness.js';
import { RedisKeyValueCache } from './redis-cache.js';
import {
  createAuthenticator,
  lazySignature,
  type RequestRecord,
  type RouterContext,
} from './request-context.js';
import { enterRequestScope, requestLog, requestRecordPlugin } from './request-log.js';
import { CallerForwardingDataSource, createSubgraphFetcher } from './subgraph-data-source.js';
import { SubscriptionEngine } from './subscriptions/engine.js';
import { createSubscriptionMetrics } from './subscriptions/metrics.js';
import { SubscriptionPlanner } from './subscriptions/planner.js';
import { createPreparer } from './subscriptions/prepare.js';
import { serveWebSocket, sseHandler } from './subscriptions/transports.js';

/** A router that is built but not listening, so tests can start it on port 0. */
export interface Router {
  readonly app: Express;
  readonly httpServer: Server;
  /** Starts listening; resolves to the GraphQL URL (`http://host:port/graphql`). */
  listen(port: number, host?: string): Promise<string>;
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

// ioredis retries forever and emits an error per attempt; one line per
// interval is enough to say Redis is down.
const REDIS_ERROR_LOG_INTERVAL_MS = 30_000;

function displayUrl(host: string, port: number): string {
  const shown =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}/graphql`;
}

/**
 * Builds the Arcadia router: @apollo/gateway over `supergraphSdl`, served by
 * Apollo Server on `/graphql` (and `/`) with JWT auth, signed caller
 * forwarding, operation limits, Redis-backed APQ, CORS, `/health`, `/ready`
 * and `/metrics`. The gateway is loaded before this resolves; nothing
 * listens until {@link Router.listen}.
 */
export async function createRouter(deps: RouterDeps): Promise<Router> {
  const { config, supergraphSdl, keys, logger } = deps;
  const metrics = createRouterMetrics();
  const verifier = config.JWKS_URL
    ? createTokenVerifier({ jwksUrl: config.JWKS_URL })
    : createTokenVerifier({ jwks: publicJwks(keys.jwtKeys) });
  const authenticate = createAuthenticator(verifier);
  const signCaller: (caller: Caller) => Promise<string> = createCallerSigner(keys.internalSecrets);

  // name → GraphQL URL of every subgraph the gateway talks to (for /ready).
  const subgraphs = new Map<string, string>();
  // name → the data source the gateway fetches with; subscriptions reuse them for entity fetches.
  const dataSources = new Map<string, CallerForwardingDataSource>();
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
      });
      const dataSource = new CallerForwardingDataSource({ name, url: target, fetcher }, signCaller);
      dataSources.set(name, dataSource);
      return dataSource;
    },
  });

  const redis = new Redis(config.REDIS_URL, {
    // Fail fast instead of queueing while Redis is away: an APQ miss just
    // makes the client send the full query, and presence writes are fire
    // and forget (a lost connect is redone by the next heartbeat, a lost
    // disconnect lapses after the ttl).
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
  });
  let lastRedisErrorAt = 0;
  redis.on('error', (error: unknown) => {
    if (Date.now() - lastRedisErrorAt < REDIS_ERROR_LOG_INTERVAL_MS) return;
    lastRedisErrorAt = Date.now();
    logger.warn(
      { err: error },
      'redis unavailable; persisted queries degrade to misses, presence is not recorded',
    );
  });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createHttpServer(app);
  const limits = queryLimits({
    maxDepth: config.MAX_DEPTH,
    maxAliases: config.MAX_ALIASES,
    maxCost: config.MAX_COST,
    maxTokens: config.MAX_TOKENS,
    maxRootFields: config.MAX_ROOT_FIELDS,
    maxDirectives: config.MAX_DIRECTIVES,
    blockFieldSuggestions: !config.INTROSPECTION,
  });

  const formatError = createFormatError(logger);
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    nodeEnv: config.NODE_ENV,
    introspection: config.INTROSPECTION,
    hideSchemaDetailsFromClientErrors: !config.INTROSPECTION,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // main.ts owns the signals (closeOnSignals); Apollo must not race it.
    stopOnTerminationSignals: false,
    logger: logger.child({ component: 'apollo' }),
    persistedQueries: {
      cache: new RedisKeyValueCache(redis, {
        prefix: config.REDIS_KEY_PREFIX,
        defaultTtlSeconds: config.APQ_TTL_SECONDS,
        logger,
      }),
      ttl: config.APQ_TTL_SECONDS,
    },
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      requestRecordPlugin(),
      {
        // The gateway cannot execute subscriptions over plain HTTP; say where they are served.
        requestDidStart: () =>
          Promise.resolve({
            didResolveOperation: ({ operation }) => {
              if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
                throw new GraphQLError(
                  'Subscriptions are served over graphql-ws on this path, or over Server-Sent Events with "Accept: text/event-stream".',
                  { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
                );
              }
              return Promise.resolve();
            },
          }),
      },
      ...limits.plugins,
    ],
  });

  try {
    await apollo.start();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const planner = new SubscriptionPlanner(supergraphSdl);
  const subscriptionMetrics = createSubscriptionMetrics(metrics.registry);
  const engine = new SubscriptionEngine({
    planner,
    dataSources,
    subgraphUrls: subgraphs,
    signCaller,
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
  const transportDeps = {
    engine,
    prepare: createPreparer({
      planner,
      validationRules: limits.validationRules,
      maxTokens: config.MAX_TOKENS,
      formatError,
    }),
    verifier,
    signCaller,
    apollo,
    metrics: subscriptionMetrics,
    logger,
    maxSocketBufferBytes: config.SUBSCRIPTION_SOCKET_BUFFER_BYTES,
    presence,
  };
  const webSocket = serveWebSocket(httpServer, '/graphql', transportDeps);

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
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.all(
    GRAPHQL_PATHS,
    requestLog({ logger, metrics }),
    corsMiddleware(config.CORS_ORIGINS),
    express.json({ limit: config.BODY_LIMIT }),
    // `Accept: text/event-stream`: subscriptions over SSE; anything else falls through to Apollo.
    sseHandler(transportDeps),
    enterRequestScope,
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<RouterContext> => {
        const record = res.locals.record as RequestRecord;
        let caller: Caller;
        try {
          caller = await authenticate(req.headers.authorization);
        } catch (error) {
          res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
          // A UserError carries HTTP 401; Apollo answers with it as is.
          throw error;
        }
        record.caller = caller;
        return {
          caller,
          requestId: record.requestId,
          record,
          signedCaller: lazySignature(() => signCaller(caller)),
        };
      },
    }),
  );
  app.use(notFound);
  app.use(httpErrorHandler({ logger, bodyLimit: config.BODY_LIMIT }));

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
    close() {
      closing ??= (async () => {
        // Subscriptions complete first (clients see `complete`), then their
        // sockets close; then in-flight requests drain and the gateway stops.
        await engine.close();
        await webSocket.close();
        await apollo.stop();
        // Sockets released above have their presence writes queued; this
        // releases any left, stops the heartbeat and waits for the writes,
        // which Redis then receives before QUIT.
        await presence.close();
        if (redis.status === 'ready') {
          await redis.quit().catch(() => redis.disconnect());
        } else {
          redis.disconnect();
        }
      })();
      return closing;
    },
  };
}
