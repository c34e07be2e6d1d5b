/**
 * Runs a query plan's nodes: fetches in sequence and in parallel, entity
 * fetches over the objects at a path, conditions on variables. The same
 * outcome as @apollo/gateway's `executeNode`/`executeFetch`
 * (executeQueryPlan.js), without its per-fetch tracing spans and with the
 * representations built by compiled builders.
 */
import type { ApolloGateway, GraphQLDataSource } from '@apollo/gateway';

type GatewayGraphQLRequestContext = Parameters<
  Awaited<ReturnType<ApolloGateway['load']>>['executor']
>[0];
import { ERRORS, errorCodeDef } from '@apollo/federation-internals';
import type { FetchNode, PlanNode, ResponsePath } from '@apollo/query-planner';
import { GraphQLError, OperationTypeNode, type GraphQLFormattedError } from 'graphql';
import {
  applyRewrites,
  compileRequires,
  deepMerge,
  pathsAt,
  valuesAtPath,
  type JsonObject,
  type RepresentationBuilder,
} from './data.js';
import type { EntityKeys } from './planning.js';
import type { RequirementGroup, RequiresRepair } from './requires-arguments.js';
import type { TypeIndex } from './type-index.js';

/** Where a node runs: the objects at `path` of the merged result. */
interface Cursor {
  readonly path: ResponsePath;
  readonly data: unknown;
}

/** One run of a plan: what every node of it shares. */
export interface PlanRun {
  readonly requestContext: GatewayGraphQLRequestContext;
  /** Subgraph name → its data source (any context type: the run passes the request's own). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly dataSources: ReadonlyMap<string, GraphQLDataSource<any>>;
  /** Types of the supergraph schema (entity type conditions, rewrites). */
  readonly types: TypeIndex;
  /** How a fetch whose fields require fields with arguments runs instead (see requires-arguments.ts). */
  readonly repairOf: (fetch: FetchNode) => RequiresRepair | undefined;
  /** Whether a fetch selects only `@shared` fields (see `Planning.isSharedFetch`). */
  readonly isSharedFetch: (fetch: FetchNode) => boolean;
  /**
   * The context a shared fetch runs with instead of the request's: the
   * anonymous caller's, so that the subgraph answers alike for everyone and
   * identical fetches of many callers can be one. Absent: the request's.
   */
  readonly sharedContext?: () => unknown;
  /** The keys each subgraph resolves each entity type by. */
  readonly entityKeys: (subgraph: string, type: string) => EntityKeys | undefined;
  /** Whether a subgraph declares any key it does not resolve by. */
  readonly hasUnresolvableKeys: (subgraph: string) => boolean;
  /** Variables as sent, over the operation's defaults (for conditions). */
  readonly defaults: Record<string, unknown>;
  /** The merged result. */
  readonly data: JsonObject;
  /** Fetch errors, in the order the gateway collects them. */
  readonly errors: unknown[];
}

// The gateway's data source request kind ("incoming operation"); it does not export the enum's type.
const INCOMING_OPERATION = 'incoming operation' as const;

const builders = new WeakMap<FetchNode, RepresentationBuilder>();

/** Runs `node` (and what it contains) over the whole result. */
export function executePlanNode(run: PlanRun, node: PlanNode): Promise<void> {
  return executeNode(run, node, { path: [], data: run.data });
}

async function executeNode(run: PlanRun, node: PlanNode, cursor: Cursor): Promise<void> {
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(run, child, cursor);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(run, child, cursor)));
      return;
    case 'Flatten': {
      const data = valuesAtPath(cursor.data, node.path);
      // No objects there (a null parent): nothing to fetch.
      if (!data) return;
      await executeNode(run, node.node, { path: [...cursor.path, ...node.path], data });
      return;
    }
    case 'Fetch':
      try {
        await executeFetch(run, node, cursor);
      } catch (error) {
        run.errors.push(error);
      }
      return;
    case 'Condition': {
      const requested = run.requestContext.request.variables;
      let value: unknown =
        requested && Object.hasOwn(requested, node.condition)
          ? requested[node.condition]
          : undefined;
      if (value === undefined) value = run.defaults[node.condition];
      if (typeof value !== 'boolean') {
        throw new Error(
          `Invalid non-boolean value ${String(value)} for Boolean! variable $${node.condition}`,
        );
      }
      const branch = value ? node.ifClause : node.elseClause;
      if (branch) await executeNode(run, branch, cursor);
      return;
    }
    case 'Defer':
      // As the gateway: its planner (and this router's) never plans @defer.
      throw new Error('@defer support is not available in the gateway');
  }
}

async function executeFetch(run: PlanRun, fetch: FetchNode, cursor: Cursor): Promise<void> {
  const repair = run.repairOf(fetch);
  if (repair) {
    await Promise.all([
      repair.rest ? executePlannedFetch(run, repair.rest, cursor) : undefined,
      ...repair.groups.map((group) =>
        executeRequirementGroup(run, fetch.serviceName, group, cursor),
      ),
    ]);
    return;
  }
  return executePlannedFetch(run, fetch, cursor);
}

/**
 * Fetches one group of fields that require fields with arguments: first
 * the required fields from their owner, then the group's fields with them.
 */
async function executeRequirementGroup(
  run: PlanRun,
  subgraph: string,
  group: RequirementGroup,
  cursor: Cursor,
): Promise<void> {
  const owner = run.dataSources.get(group.owner);
  const service = run.dataSources.get(subgraph);
  if (!owner || !service)
    throw new Error(`Couldn't find service with name "${!owner ? group.owner : subgraph}"`);
  const ownerKeys = run.entityKeys(group.owner, group.type)?.resolvable ?? [];
  const keys = run.entityKeys(subgraph, group.type)?.resolvable ?? [];
  const entities: JsonObject[] = [];
  const ownerRepresentations: JsonObject[] = [];
  const representations: JsonObject[] = [];
  const indexes: number[] = [];
  const all = Array.isArray(cursor.data) ? (cursor.data as unknown[]) : [cursor.data];
  for (const value of all) {
    if (value === null || value === undefined) continue;
    const entity = value as JsonObject;
    entities.push(entity);
    if (entity.__typename !== group.type) continue;
    const ownerKey = firstKey(ownerKeys, entity);
    const key = firstKey(keys, entity);
    if (!ownerKey || !key) continue;
    ownerRepresentations.push({ __typename: group.type, ...ownerKey });
    representations.push({ __typename: group.type, ...key });
    indexes.push(entities.length - 1);
  }
  if (indexes.length === 0) return;
  const ownerFetch: FetchNode = {
    kind: 'Fetch',
    serviceName: group.owner,
    operation: group.ownerOperation,
    operationName: undefined,
    operationKind: OperationTypeNode.QUERY,
  };
  const required = await send(
    run,
    owner,
    ownerFetch,
    cursor,
    { representations: ownerRepresentations },
    indexes,
  );
  const requiredList = required?._entities;
  if (!Array.isArray(requiredList) || requiredList.length !== indexes.length) return;
  const variables = variablesOf(run, group.variableUsages);
  const ready: JsonObject[] = [];
  const readyIndexes: number[] = [];
  requiredList.forEach((values, i) => {
    // The owner did not find the entity: nothing to compute from (its error says why).
    if (!values || typeof values !== 'object') return;
    const representation = representations[i]!;
    for (const [name, value] of Object.entries(values as JsonObject)) {
      if (name !== '__typename') representation[name] = value;
    }
    ready.push(representation);
    readyIndexes.push(indexes[i]!);
  });
  if (ready.length === 0) return;
  variables.representations = ready;
  const groupFetch: FetchNode = {
    ...ownerFetch,
    serviceName: subgraph,
    operation: group.operation,
  };
  const received = await send(run, service, groupFetch, cursor, variables, readyIndexes);
  const list = received?._entities;
  if (!Array.isArray(list) || list.length !== ready.length) return;
  list.forEach((entity, i) => deepMerge(entities[readyIndexes[i]!]!, entity));
}

/** The request's variables a fetch uses, as the gateway passes them on (unset ones left out). */
function variablesOf(run: PlanRun, names: readonly string[] | undefined): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  const provided = run.requestContext.request.variables;
  if (!names || !provided) return variables;
  for (const name of names) {
    if (Object.hasOwn(provided, name) && provided[name] !== undefined)
      variables[name] = provided[name];
  }
  return variables;
}

function firstKey(keys: readonly RepresentationBuilder[], entity: JsonObject): JsonObject | null {
  for (const key of keys) {
    const fields = key(entity);
    if (fields) return fields;
  }
  return null;
}

async function executePlannedFetch(run: PlanRun, fetch: FetchNode, cursor: Cursor): Promise<void> {
  const service = run.dataSources.get(fetch.serviceName);
  if (!service) throw new Error(`Couldn't find service with name "${fetch.serviceName}"`);
  const entities: JsonObject[] = [];
  if (Array.isArray(cursor.data)) {
    for (const entity of cursor.data)
      if (entity !== null && entity !== undefined) entities.push(entity as JsonObject);
  } else {
    entities.push(cursor.data as JsonObject);
  }
  if (entities.length === 0) return;

  const variables = variablesOf(run, fetch.variableUsages);

  if (!fetch.requires) {
    const received = await send(run, service, fetch, cursor, variables, undefined);
    if (received) applyRewrites(fetch.outputRewrites, received, run.types);
    for (const entity of entities) deepMerge(entity, received);
    return;
  }

  let build = builders.get(fetch);
  if (!build) {
    build = compileRequires(fetch.requires, run.types);
    builders.set(fetch, build);
  }
  const representations: JsonObject[] = [];
  const representationToEntity: number[] = [];
  const checkKeys = run.hasUnresolvableKeys(fetch.serviceName);
  for (let i = 0; i < entities.length; i++) {
    const representation = build(entities[i]);
    if (representation && representation.__typename) {
      if (checkKeys) ensureResolvableKey(run, fetch.serviceName, representation, entities[i]!);
      applyRewrites(fetch.inputRewrites, representation, run.types);
      representations.push(representation);
      representationToEntity.push(i);
    }
  }
  if (representations.length === 0) return;
  if (Object.hasOwn(variables, 'representations')) {
    throw new Error('Variables cannot contain key "representations"');
  }
  variables.representations = representations;
  const received = await send(run, service, fetch, cursor, variables, representationToEntity);
  if (!received) return;
  const list = received._entities;
  if (!Array.isArray(list)) throw new Error('Expected "data._entities" in response to be an array');
  if (list.length !== representations.length) {
    throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
  }
  for (let i = 0; i < list.length; i++) {
    const entity = list[i] as JsonObject | null;
    const target = entities[representationToEntity[i]!]!;
    if (entity && !entity.__typename) entity.__typename = target.__typename;
    applyRewrites(fetch.outputRewrites, entity, run.types);
    deepMerge(target, entity);
  }
}

/**
 * Gives a representation a key its subgraph resolves by. The query planner
 * builds the representation of a `@requires` fetch with the first key the
 * subgraph declares whose fields are its own (`getLocallySatisfiableKey` in
 * @apollo/query-graphs), even one declared `resolvable: false`; the
 * subgraph then cannot find the entity and the required field comes back
 * null with no error (a known @apollo/gateway defect). When the
 * representation has no resolvable key's fields, the first resolvable key
 * whose fields the entity already holds is added to it.
 */
function ensureResolvableKey(
  run: PlanRun,
  subgraph: string,
  representation: JsonObject,
  entity: JsonObject,
): void {
  const keys = run.entityKeys(subgraph, representation.__typename as string);
  if (!keys?.hasUnresolvable || keys.resolvable.length === 0) return;
  if (keys.resolvable.some((key) => key(representation) !== null)) return;
  const fields = firstKey(keys.resolvable, entity);
  if (fields) deepMerge(representation, fields);
}

async function send(
  run: PlanRun,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  service: GraphQLDataSource<any>,
  fetch: FetchNode,
  cursor: Cursor,
  variables: Record<string, unknown>,
  representationToEntity: number[] | undefined,
): Promise<JsonObject | undefined> {
  const response = await service.process({
    kind: INCOMING_OPERATION as never,
    request: { query: fetch.operation, variables, operationName: fetch.operationName },
    incomingRequestContext: run.requestContext,
    context:
      run.sharedContext && run.isSharedFetch(fetch)
        ? run.sharedContext()
        : run.requestContext.context,
    document: fetch.operationDocumentNode,
    pathInIncomingRequest: cursor.path,
  });
  if (response.errors) {
    let entityPaths: (string | number)[][] | undefined;
    const pathOf = (path: readonly (string | number)[] | undefined) => {
      if (!path) return undefined;
      if (representationToEntity && typeof path[1] === 'number') {
        // An entity's error: where that entity is in the client's response.
        entityPaths ??= pathsAt(run.data, cursor.path);
        const entityIndex = representationToEntity[path[1]];
        const at = entityIndex === undefined ? undefined : entityPaths[entityIndex];
        return [...(at ?? []), ...path.slice(2)];
      }
      return [...cursor.path, ...path];
    };
    for (const error of response.errors) {
      run.errors.push(downstreamError(error, fetch.serviceName, pathOf(error.path)));
    }
  }
  return response.data as JsonObject | undefined;
}

/** A subgraph's error as the gateway reports it (its `downstreamServiceError`). */
function downstreamError(
  original: GraphQLFormattedError,
  serviceName: string,
  path: (string | number)[] | undefined,
): GraphQLError {
  const message = original.message || `Error while fetching subquery from service "${serviceName}"`;
  const options = {
    originalError: original as unknown as Error,
    path,
    extensions: { ...original.extensions, serviceName },
  };
  const code = errorCodeDef(original);
  if (!code && original.extensions?.code) return new GraphQLError(message, options);
  return (code ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}
