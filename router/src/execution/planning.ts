import { operationFromDocument, Supergraph, type Schema } from '@apollo/federation-internals';
import {
  QueryPlanner,
  type FetchNode,
  type QueryPlan,
  type QueryPlanSelectionNode,
} from '@apollo/query-planner';
import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { compileRequires, type RepresentationBuilder } from './data.js';
import { analyseRequiresArguments, type RequiresRepair } from './requires-arguments.js';
import { sharedFetch } from './shared-fetches.js';
import { indexTypes, type TypeIndex } from './type-index.js';

/** The `@key`s a subgraph resolves an entity type by, as builders of the key's fields. */
export interface EntityKeys {
  /** Builds the key's fields from an object; null when one is missing. */
  readonly resolvable: readonly RepresentationBuilder[];
  /** The subgraph also declares keys it does not resolve by. */
  readonly hasUnresolvable: boolean;
}

/**
 * One supergraph, prepared for planning and executing operations: the
 * federation query planner (@apollo/gateway's, configured as the gateway
 * configures it) and the schemas and type indexes execution needs. Built
 * once per supergraph and shared by the query executor and the
 * subscription planner, so the planner's query graphs exist once.
 */
export class Planning {
  /** The public (API) schema clients validate against. */
  readonly apiSchema: GraphQLSchema;
  /** The API schema in federation-internals form (for the planner). */
  readonly apiFederationSchema: Schema;
  /** The supergraph schema (for entity type conditions and rewrites). */
  readonly supergraphSchema: GraphQLSchema;
  readonly apiTypes: TypeIndex;
  readonly supergraphTypes: TypeIndex;
  private readonly planner: QueryPlanner;
  private readonly repairs = new WeakMap<FetchNode, RequiresRepair | null>();
  private readonly sharedFetches = new WeakMap<FetchNode, boolean>();
  /** `join__Graph` value → subgraph name. */
  private readonly graphs = new Map<string, string>();
  /** `subgraph\0type` → its keys (only types with a key in that subgraph). */
  private readonly keys = new Map<string, EntityKeys>();
  private readonly subgraphsWithUnresolvableKeys = new Set<string>();
  /** `subgraph\0type` → the top-level fields of its keys (resolvable or not). */
  private readonly keyFieldNames = new Map<string, Set<string>>();

  constructor(supergraphSdl: string) {
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiFederationSchema = supergraph.apiSchema();
    this.apiSchema = this.apiFederationSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.apiTypes = indexTypes(this.apiSchema);
    this.supergraphTypes = indexTypes(this.supergraphSchema);
    this.planner = new QueryPlanner(supergraph);
    this.indexKeys();
  }

  /** How `fetch` runs instead of as planned, computed once per fetch node (see requires-arguments.ts). */
  repairOf(fetch: FetchNode): RequiresRepair | undefined {
    if (!fetch.requires) return undefined;
    let repair = this.repairs.get(fetch);
    if (repair === undefined) {
      repair = analyseRequiresArguments(fetch, this) ?? null;
      this.repairs.set(fetch, repair);
    }
    return repair ?? undefined;
  }

  /**
   * Whether `fetch` selects only fields every caller gets alike: an entity
   * fetch whose fields (beyond `__typename` and its types' keys) its
   * subgraph marked `@shared`. Such a fetch may run as the anonymous
   * caller, once for everyone who needs it at the same moment.
   */
  isSharedFetch(fetch: FetchNode): boolean {
    let shared = this.sharedFetches.get(fetch);
    if (shared === undefined) {
      shared = sharedFetch(fetch, this);
      this.sharedFetches.set(fetch, shared);
    }
    return shared;
  }

  /** The subgraph a `join__Graph` enum value names. */
  subgraphOf(graph: string): string | undefined {
    return this.graphs.get(graph);
  }

  /** The top-level field names of the keys `subgraph` declares for `type`. */
  keyFields(subgraph: string, type: string): ReadonlySet<string> {
    return this.keyFieldNames.get(`${subgraph}\0${type}`) ?? new Set();
  }

  /** The keys `subgraph` declares for `type`, if any. */
  entityKeys(subgraph: string, type: string): EntityKeys | undefined {
    return this.keys.get(`${subgraph}\0${type}`);
  }

  /** Whether `subgraph` declares any key `resolvable: false` (see `ensureResolvableKey`). */
  hasUnresolvableKeys(subgraph: string): boolean {
    return this.subgraphsWithUnresolvableKeys.has(subgraph);
  }

  /** Reads every `@join__type(graph:, key:, resolvable:)` of the supergraph. */
  private indexKeys(): void {
    const graphs = this.graphs;
    const graphEnum = this.supergraphSchema.getType('join__Graph');
    for (const value of graphEnum?.astNode?.kind === Kind.ENUM_TYPE_DEFINITION
      ? (graphEnum.astNode.values ?? [])
      : []) {
      const name = stringArgument(
        value.directives?.find((d) => d.name.value === 'join__graph'),
        'name',
      );
      if (name) graphs.set(value.name.value, name);
    }
    const found = new Map<
      string,
      { resolvable: RepresentationBuilder[]; hasUnresolvable: boolean }
    >();
    for (const type of Object.values(this.supergraphSchema.getTypeMap())) {
      const directives = [type.astNode, ...(type.extensionASTNodes ?? [])].flatMap(
        (node) => node?.directives ?? [],
      );
      for (const directive of directives) {
        if (directive.name.value !== 'join__type') continue;
        const graph = directive.arguments?.find((a) => a.name.value === 'graph')?.value;
        const key = stringArgument(directive, 'key');
        const subgraph = graph?.kind === Kind.ENUM ? graphs.get(graph.value) : undefined;
        if (!subgraph || !key) continue;
        const resolvableArg = directive.arguments?.find(
          (a) => a.name.value === 'resolvable',
        )?.value;
        const resolvable = !(resolvableArg?.kind === Kind.BOOLEAN && !resolvableArg.value);
        const id = `${subgraph}\0${type.name}`;
        let entry = found.get(id);
        if (!entry) found.set(id, (entry = { resolvable: [], hasUnresolvable: false }));
        const selectionSet = (
          parse(`{${key}}`).definitions[0] as { selectionSet: SelectionSetNode }
        ).selectionSet;
        let names = this.keyFieldNames.get(id);
        if (!names) this.keyFieldNames.set(id, (names = new Set()));
        for (const field of selectionSet.selections) {
          if (field.kind === Kind.FIELD) names.add(field.name.value);
        }
        if (resolvable) {
          const selection = (parse(`{${key}}`).definitions[0] as { selectionSet: SelectionSetNode })
            .selectionSet;
          entry.resolvable.push(compileRequires(toPlanSelections(selection), this.supergraphTypes));
        } else {
          entry.hasUnresolvable = true;
        }
      }
    }
    for (const [id, entry] of found) {
      this.keys.set(id, entry);
      if (entry.hasUnresolvable)
        this.subgraphsWithUnresolvableKeys.add(id.slice(0, id.indexOf('\0')));
    }
  }

  /** Plans `operationName` of a validated `document` (throws a GraphQLError when it cannot). */
  plan(document: DocumentNode, operationName: string | undefined): QueryPlan {
    const operation = operationFromDocument(this.apiFederationSchema, document, { operationName });
    return this.planner.buildQueryPlan(operation, {
      // The gateway's defaults (it reads them from the environment; the router does not set them).
      recursiveSelectionsLimitDisabled: false,
      nonLocalSelectionsLimitDisabled: false,
    });
  }
}

function stringArgument(
  directive: ConstDirectiveNode | undefined,
  name: string,
): string | undefined {
  const value = directive?.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

/** A parsed field set as the plan's selection nodes (what {@link compileRequires} takes). */
function toPlanSelections(set: SelectionSetNode): QueryPlanSelectionNode[] {
  return set.selections.map((selection): QueryPlanSelectionNode => {
    if (selection.kind === Kind.FIELD) {
      return {
        kind: 'Field',
        name: selection.name.value,
        ...(selection.selectionSet ? { selections: toPlanSelections(selection.selectionSet) } : {}),
      };
    }
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      return {
        kind: 'InlineFragment',
        ...(selection.typeCondition ? { typeCondition: selection.typeCondition.name.value } : {}),
        selections: toPlanSelections(selection.selectionSet),
      };
    }
    throw new Error('A key field set has no fragment spreads');
  });
}
