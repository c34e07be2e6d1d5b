import { randomBytes } from 'node:crypto';
import { printSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLSchema } from 'graphql';
import { generateJwtKey, type KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createRouter, parseRouterEnv, type Router } from '@arcadia/router';
import { composeSupergraph } from '@arcadia/schema';
import { uniqueName } from './ids.js';

/** What the harness needs of a subgraph: what `createSubgraphServer` returns. */
export interface StartableSubgraph {
  readonly name: string;
  readonly schema: GraphQLSchema;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** A GraphQL response as a client sees it. */
export interface GraphQLResponse<TData = Record<string, any>> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

/** A running supergraph: subgraphs and router on free ports. */
export interface TestSupergraph {
  /** The router's `/graphql` URL. */
  readonly url: string;
  readonly router: Router;
  readonly subgraphUrls: Readonly<Record<string, string>>;
  readonly supergraphSdl: string;
  /** POSTs an operation to the router, with a bearer token when given. */
  request<TData = Record<string, any>>(
    query: string,
    options?: {
      variables?: Record<string, unknown>;
      token?: string | null;
      headers?: Record<string, string>;
    },
  ): Promise<GraphQLResponse<TData>>;
  /**
   * Starts another router instance on the same supergraph and configuration
   * (a second instance behind the load balancer); `stop()` stops it too.
   */
  addRouter(): Promise<{ url: string; close(): Promise<void> }>;
  /** Stops one subgraph (to test the router when a service is down). */
  stopSubgraph(name: string): Promise<void>;
  /** Stops the router, then every subgraph. */
  stop(): Promise<void>;
}

/** Fresh signing keys for one test run, never written to disk. */
export async function testKeyMaterial(): Promise<KeyMaterial> {
  return {
    jwtKeys: [await generateJwtKey()],
    internalSecrets: [randomBytes(32).toString('base64url')],
  };
}

/**
 * Starts the given subgraphs on free ports, composes them with
 * @apollo/composition and starts the router on that supergraph, in process.
 * `routerEnv` overrides router variables (limits, CORS, …).
 */
export async function startSupergraph(options: {
  subgraphs: StartableSubgraph[];
  keys: KeyMaterial;
  routerEnv?: Record<string, string>;
}): Promise<TestSupergraph> {
  const subgraphUrls: Record<string, string> = {};
  const running = new Map<string, StartableSubgraph>();
  for (const subgraph of options.subgraphs) {
    subgraphUrls[subgraph.name] = await subgraph.listen(0);
    running.set(subgraph.name, subgraph);
  }
  const { supergraphSdl } = composeSupergraph(
    options.subgraphs.map((s) => ({
      name: s.name,
      url: subgraphUrls[s.name]!,
      typeDefs: printSubgraphSchema(s.schema),
    })),
  );
  const config = parseRouterEnv({
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // Sockets of test users stay out of the presence keys of a local run.
    PRESENCE_PREFIX: `${uniqueName('presence')}:`,
    ...options.routerEnv,
  });
  const router = await createRouter({
    config,
    supergraphSdl,
    keys: options.keys,
    logger: createLogger('router', config.LOG_LEVEL),
  });
  const url = await router.listen(0, '127.0.0.1');
  const extraRouters: Router[] = [];

  return {
    url,
    router,
    subgraphUrls,
    supergraphSdl,
    async request(query, { variables, token, headers } = {}) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: res.status, ...body } as GraphQLResponse<any>;
    },
    async addRouter() {
      const another = await createRouter({
        config,
        supergraphSdl,
        keys: options.keys,
        logger: createLogger('router', config.LOG_LEVEL),
      });
      extraRouters.push(another);
      return { url: await another.listen(0, '127.0.0.1'), close: () => another.close() };
    },
    async stopSubgraph(name) {
      await running.get(name)?.close();
      running.delete(name);
    },
    async stop() {
      await Promise.allSettled(extraRouters.map((r) => r.close()));
      await router.close();
      await Promise.all([...running.values()].map((s) => s.close()));
      running.clear();
    },
  };
}
