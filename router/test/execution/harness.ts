/**
 * The parity harness: in-process subgraphs (`buildSubgraphSchema` +
 * `LocalGraphQLDataSource`, no HTTP), a supergraph composed from them, the
 * gateway's executor, and a request context built the way Apollo Server
 * builds it, so that any `GatewayExecutor` can be run on the same operation
 * and its answer compared with @apollo/gateway's.
 */
import { createHash } from 'node:crypto';
import { ApolloGateway, LocalGraphQLDataSource, type GraphQLDataSource } from '@apollo/gateway';
import { prettyFormatQueryPlan } from '@apollo/query-planner';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeSupergraph } from '@arcadia/schema';
import {
  getOperationAST,
  parse,
  print,
  validate,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';

/** What `ApolloGateway.load()` hands Apollo Server: the executor every operation runs with. */
export type GatewayExecutor = NonNullable<Awaited<ReturnType<ApolloGateway['load']>>['executor']>;
/** The request context Apollo Server passes to the executor. */
export type GatewayRequestContext = Parameters<GatewayExecutor>[0];

/** Resolvers of one subgraph, as `buildSubgraphSchema` takes them. */
export type SubgraphResolvers = Record<
  string,
  | GraphQLScalarType
  | Record<string, GraphQLFieldResolver<any, any> | { resolve: GraphQLFieldResolver<any, any> }>
>;

/** One in-process subgraph: its SDL (federation 2) and resolvers over fixed data. */
export interface SubgraphFixture {
  readonly name: string;
  readonly typeDefs: DocumentNode;
  readonly resolvers: SubgraphResolvers;
  /**
   * Replaces the subgraph's `LocalGraphQLDataSource` (a subgraph that is
   * down, or one that answers what its schema forbids). It gets the local
   * data source to wrap.
   */
  readonly dataSource?: (local: LocalGraphQLDataSource) => GraphQLDataSource;
}

/** One operation of the corpus. */
export interface ParityCase {
  /** Completes "it …": reads as a sentence in the test report. */
  readonly name: string;
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  readonly operationName?: string;
}

/** A response reduced to what a client can observe and the comparison looks at. */
export interface ObservedResponse {
  /** `JSON.stringify(data)`: key order is part of the answer. */
  readonly data: string | undefined;
  readonly errors: ObservedError[];
  /**
   * The gateway reports result-shaping errors (invalid leaf values, unknown
   * `__typename`s, nulls in non-null positions) in `extensions.valueCompletion`
   * when nothing else failed; Apollo Server passes them on to the client.
   */
  readonly valueCompletion: ObservedError[];
}

/** An error as a client sees it: what Apollo Server serialises of a GraphQLError. */
export interface ObservedError {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly code?: unknown;
}

/** A composed supergraph over in-process subgraphs, with the gateway loaded on it. */
export interface ParitySupergraph {
  readonly supergraphSdl: string;
  /** Subgraph name → the data source both executors use. */
  readonly dataSources: ReadonlyMap<string, GraphQLDataSource<any>>;
  /** The API schema operations are validated against (`gateway.schema` after load). */
  readonly apiSchema: GraphQLSchema;
  /** @apollo/gateway's executor. */
  readonly gatewayExecutor: GatewayExecutor;
  /** Runs `testCase` through `executor` with a fresh request context. */
  run(executor: GatewayExecutor, testCase: ParityCase): Promise<ObservedResponse>;
  /** The gateway's query plan for `testCase`, as `prettyFormatQueryPlan` prints it. */
  plan(testCase: ParityCase): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Composes `fixtures` with @apollo/composition and loads @apollo/gateway on
 * the result, every subgraph behind a `LocalGraphQLDataSource` (or the
 * fixture's replacement). Composition errors throw, listing every error.
 */
export async function createParitySupergraph(
  fixtures: readonly SubgraphFixture[],
): Promise<ParitySupergraph> {
  const { supergraphSdl } = composeSupergraph(
    fixtures.map((f) => ({
      name: f.name,
      url: `http://${f.name}.invalid/graphql`,
      typeDefs: print(f.typeDefs),
    })),
  );
  const dataSources = new Map<string, GraphQLDataSource<any>>();
  for (const fixture of fixtures) {
    const local = new LocalGraphQLDataSource(
      buildSubgraphSchema({ typeDefs: fixture.typeDefs, resolvers: fixture.resolvers }),
    );
    dataSources.set(fixture.name, fixture.dataSource ? fixture.dataSource(local) : local);
  }

  // The plan of the last operation, captured for `plan()` (the gateway caches
  // plans, so a second run of the same operation reports the same plan).
  let lastPlan: string | undefined;
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) => {
      const dataSource = dataSources.get(name);
      if (!dataSource) throw new Error(`no data source for subgraph ${name}`);
      return dataSource;
    },
    logger: silentLogger,
    experimental_didResolveQueryPlan: ({ queryPlan }) => {
      lastPlan = prettyFormatQueryPlan(queryPlan);
    },
  });
  const { executor } = await gateway.load();
  if (!executor) throw new Error('the gateway loaded without an executor');
  const apiSchema = gateway.schema;
  if (!apiSchema) throw new Error('the gateway loaded without an API schema');

  return {
    supergraphSdl,
    dataSources,
    apiSchema,
    gatewayExecutor: executor,
    async run(runExecutor, testCase) {
      const result = await runExecutor(requestContextFor(apiSchema, testCase));
      return observe(result);
    },
    async plan(testCase) {
      lastPlan = undefined;
      await executor(requestContextFor(apiSchema, testCase));
      if (lastPlan === undefined) throw new Error(`no plan was built for ${testCase.name}`);
      return lastPlan;
    },
    stop: () => gateway.stop(),
  };
}

/**
 * The request context Apollo Server hands the executor
 * (@apollo/server requestPipeline.js): the operation parsed, validated
 * against the API schema and picked out, its hash, and the per-request
 * state. Invalid operations throw: the corpus holds valid ones only.
 */
export function requestContextFor(
  schema: GraphQLSchema,
  testCase: ParityCase,
): GatewayRequestContext {
  const document = parse(testCase.query);
  const validationErrors = validate(schema, document);
  if (validationErrors.length > 0) {
    throw new Error(
      `invalid operation in case "${testCase.name}": ${validationErrors.map((e) => e.message).join('; ')}`,
    );
  }
  const operation = getOperationAST(document, testCase.operationName);
  if (!operation) throw new Error(`no operation to run in case "${testCase.name}"`);
  const request = {
    query: testCase.query,
    ...(testCase.variables ? { variables: testCase.variables } : {}),
    ...(testCase.operationName ? { operationName: testCase.operationName } : {}),
  };
  const store = new Map<string, string>();
  return {
    request,
    logger: silentLogger,
    schema,
    schemaHash: 'parity' as GatewayRequestContext['schemaHash'],
    context: {},
    cache: {
      get: async (key: string) => store.get(key),
      set: async (key: string, value: string) => void store.set(key, value),
      delete: async (key: string) => void store.delete(key),
    },
    queryHash: createHash('sha256').update(testCase.query).digest('hex'),
    document,
    source: testCase.query,
    operationName: operation.name?.value ?? null,
    operation,
    metrics: {},
    overallCachePolicy: {
      restrict: () => undefined,
      replace: () => undefined,
      policyIfCacheable: () => null,
    },
  };
}

/** Reduces an executor's result to what a client observes (see {@link ObservedResponse}). */
export function observe(result: Awaited<ReturnType<GatewayExecutor>>): ObservedResponse {
  const valueCompletion = result.extensions?.['valueCompletion'];
  return {
    data: result.data === undefined ? undefined : JSON.stringify(result.data),
    errors: (result.errors ?? []).map(observeError),
    valueCompletion: Array.isArray(valueCompletion) ? valueCompletion.map(observeError) : [],
  };
}

/**
 * An error as Apollo Server serialises it: `toJSON()` for a GraphQLError
 * (message, path, extensions); any other Error has no path, and Apollo
 * Server's formatting gives it INTERNAL_SERVER_ERROR.
 */
function observeError(error: unknown): ObservedError {
  const json: { message?: unknown; path?: unknown; extensions?: Record<string, unknown> } =
    typeof (error as { toJSON?: unknown }).toJSON === 'function'
      ? (error as { toJSON(): object }).toJSON()
      : { message: (error as Error).message };
  return {
    message: String(json.message),
    ...(Array.isArray(json.path) ? { path: json.path as (string | number)[] } : {}),
    code: json.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR',
  };
}

/** The gateway logs planning and fetch trouble; the tests read the results instead. */
const silentLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
