/**
 * Arcadia's executor of federated operations. It keeps @apollo/gateway's
 * supergraph loading and query planner (the federation engine the design
 * chose) and runs their plans itself: the same fetches, merged the same
 * way, and the same responses (a parity corpus in router/test/execution
 * runs every case through both), at a fraction of the gateway executor's
 * CPU — the plan, the operation's compiled result shaping and the fetches'
 * representation builders are made once per document, not per request.
 */
import { buildOperationContext, type ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import type { PlanNode, QueryPlan } from '@apollo/query-planner';
import {
  getVariableValues,
  GraphQLError,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { executePlanNode, type PlanRun } from './execute.js';
import { Planning } from './planning.js';
import { compileShape, shapeResponse, type ShapePlan } from './shape.js';

export { Planning } from './planning.js';

/** The executor Apollo Server runs every operation with (`ApolloGateway.load()`'s `executor`). */
export type GatewayExecutor = Awaited<ReturnType<ApolloGateway['load']>>['executor'];
type GatewayGraphQLRequestContext = Parameters<GatewayExecutor>[0];

/** What {@link createPlanExecutor} needs. */
export interface PlanExecutorOptions {
  /** The supergraph SDL (federation 2) the gateway also loads. */
  supergraphSdl: string;
  /** Subgraph name (the supergraph's `join__Graph` name) → the data source the gateway uses for it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- data sources are typed by their own context
  dataSources: ReadonlyMap<string, GraphQLDataSource<any>>;
  /** The supergraph prepared already (shared with the subscription planner); built from `supergraphSdl` if absent. */
  planning?: Planning;
  /** Operations whose plans are kept (beyond those of documents Apollo Server still holds). */
  maxCachedPlans?: number;
  /**
   * The context of the anonymous caller for a request's context: entity
   * fetches of only `@shared` fields run with it (see `Planning.isSharedFetch`).
   * Absent: every fetch runs as the request's caller.
   */
  anonymousContext?: (context: unknown) => unknown;
}

/** One operation of one document, ready to run. */
interface Prepared {
  readonly plan: QueryPlan;
  readonly shape: ShapePlan;
  readonly operation: OperationDefinitionNode;
}

/**
 * Builds the executor. Plans are cached by document (Apollo Server hands
 * over the same parsed document for the same query text while its document
 * cache holds it) and by query hash in a bounded LRU behind that.
 */
export function createPlanExecutor(options: PlanExecutorOptions): GatewayExecutor {
  const planning = options.planning ?? new Planning(options.supergraphSdl);
  const dataSources = options.dataSources;
  const byDocument = new WeakMap<DocumentNode, Map<string, Prepared>>();
  const byHash = new LRUCache<string, Prepared>({ max: options.maxCachedPlans ?? 2_000 });

  const prepare = (requestContext: GatewayGraphQLRequestContext): Prepared => {
    const { document, queryHash } = requestContext;
    const operationName = requestContext.request.operationName ?? undefined;
    const nameKey = operationName ?? '';
    let perDocument = byDocument.get(document);
    let prepared = perDocument?.get(nameKey);
    if (prepared) return prepared;
    const hashKey = `${queryHash}\0${nameKey}`;
    prepared = byHash.get(hashKey);
    if (!prepared) {
      const { operation } = buildOperationContext({
        schema: planning.apiSchema,
        operationDocument: document,
        operationName,
      });
      prepared = {
        plan: planning.plan(document, operationName),
        shape: compileShape(planning.apiSchema, operation, document),
        operation,
      };
      byHash.set(hashKey, prepared);
    }
    if (!perDocument) {
      perDocument = new Map();
      byDocument.set(document, perDocument);
    }
    perDocument.set(nameKey, prepared);
    return prepared;
  };

  return async (requestContext) => {
    const prepared = prepare(requestContext);
    const variables = requestContext.request.variables ?? undefined;
    // The gateway checks the variables against the operation again (Apollo
    // Server leaves coercion to the executor); the same errors here.
    const definitions = prepared.operation.variableDefinitions;
    if (definitions?.length) {
      const { errors } = getVariableValues(planning.apiSchema, definitions, variables ?? {});
      if (errors) return { errors };
    }
    if (prepared.plan.node?.kind === 'Subscription') {
      throw new Error('Execution of subscriptions not supported by gateway');
    }
    return runPlan({
      planning,
      node: prepared.plan.node,
      shape: prepared.shape,
      dataSources,
      requestContext,
      anonymousContext: options.anonymousContext,
    });
  };
}

/**
 * Runs one plan (or a subscription event's remaining plan) and shapes the
 * result: what the gateway's `executeQueryPlan` returns — `data`, fetch
 * `errors`, and completion errors in `extensions.valueCompletion` when no
 * fetch failed (the router's null-propagation turns those into errors).
 */
export async function runPlan(args: {
  planning: Planning;
  node: PlanNode | undefined;
  shape: ShapePlan;
  dataSources: PlanRun['dataSources'];
  requestContext: GatewayGraphQLRequestContext;
  anonymousContext?: ((context: unknown) => unknown) | undefined;
}): Promise<Awaited<ReturnType<GatewayExecutor>>> {
  const { planning, shape, requestContext } = args;
  const variables = requestContext.request.variables ?? undefined;
  const run: PlanRun = {
    requestContext,
    dataSources: args.dataSources,
    types: planning.supergraphTypes,
    entityKeys: (subgraph, type) => planning.entityKeys(subgraph, type),
    hasUnresolvableKeys: (subgraph) => planning.hasUnresolvableKeys(subgraph),
    repairOf: (fetch) => planning.repairOf(fetch),
    isSharedFetch: (fetch) => planning.isSharedFetch(fetch),
    ...(args.anonymousContext
      ? { sharedContext: once(() => args.anonymousContext!(requestContext.context)) }
      : {}),
    defaults: shape.defaults,
    data: {},
    errors: [],
  };
  if (args.node) await executePlanNode(run, args.node);
  let shaped;
  try {
    shaped = shapeResponse(shape, run.data, variables, planning.apiSchema, planning.apiTypes);
  } catch (error) {
    // As the gateway: a broken subgraph answer fails the whole response.
    if (error instanceof GraphQLError) return { errors: [error] };
    const message =
      error instanceof Error ? error.message : 'Unexpected error during query plan execution';
    return { errors: [new GraphQLError(message, { originalError: error as Error })] };
  }
  const errors = [...(run.errors as GraphQLError[]), ...shaped.fieldErrors];
  if (errors.length === 0 && shaped.errors.length > 0) {
    return { extensions: { valueCompletion: shaped.errors }, data: shaped.data };
  }
  return errors.length === 0 ? { data: shaped.data } : { errors, data: shaped.data };
}

/** The gateway as Apollo Server uses it: schema loading and lifecycle. */
export type GatewayInterface = Pick<ApolloGateway, 'load' | 'onSchemaLoadOrUpdate' | 'stop'>;

/**
 * `gateway` as Apollo Server sees it, executing every operation with
 * `executor(gatewayExecutor)`: the gateway loads the supergraph and
 * provides the schema, the executor returned here runs the operations.
 */
export function servingGateway(
  gateway: ApolloGateway,
  executor: (gatewayExecutor: GatewayExecutor) => GatewayExecutor,
): GatewayInterface {
  return {
    load: async (options) => {
      const loaded = await gateway.load(options);
      return { ...loaded, executor: executor(loaded.executor) };
    },
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
  };
}

/** `make`'s value, made on first use. */
function once<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}
