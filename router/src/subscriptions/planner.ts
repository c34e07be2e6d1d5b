import { createHash } from 'node:crypto';
import { buildOperationContext } from '@apollo/gateway';
import type { FetchNode, PlanNode } from '@apollo/query-planner';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  print,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { Planning } from '../execution/planning.js';
import { compileShape, type ShapePlan } from '../execution/shape.js';
import { SHARED_DIRECTIVE } from '../execution/shared-fetches.js';

/** The gateway's view of one operation (fragments resolved, operation picked). */
export type OperationContext = ReturnType<typeof buildOperationContext>;

/**
 * A subscription planned by the federation query planner: `primary` is the
 * subscription fetched from the subgraph that owns the root field; `rest`
 * (entity fetches to other subgraphs) runs once per event.
 */
export interface SubscriptionPlan {
  readonly primary: FetchNode;
  readonly rest: PlanNode | undefined;
  /**
   * The root field is marked `@shared`: its events are the same for every
   * caller, so one upstream serves everyone and events resolve anonymously.
   */
  readonly shared: boolean;
  readonly operationContext: OperationContext;
  /** The operation compiled for shaping each event's result (see `execution/shape.ts`). */
  readonly shape: ShapePlan;
  /** A stable key of the document and operation name. */
  readonly key: string;
}

// Plans are pure functions of (supergraph, document); a bounded cache keeps
// the planner off the path of every subscribe of a popular operation.
const MAX_CACHED_PLANS = 1_000;

/**
 * Plans subscriptions over one supergraph, with the same planner and schemas
 * the gateway uses for queries.
 */
export class SubscriptionPlanner {
  private readonly cache = new Map<string, SubscriptionPlan>();

  /** @param planning The supergraph as the query executor plans it (one planner for both). */
  constructor(readonly planning: Planning) {}

  /** The public (API) schema clients validate against. */
  get apiSchema(): GraphQLSchema {
    return this.planning.apiSchema;
  }

  /** Plans a validated subscription document; throws a GraphQLError for anything else. */
  plan(document: DocumentNode, operationName: string | null | undefined): SubscriptionPlan {
    const key = createHash('sha256')
      .update(print(document))
      .update('\0')
      .update(operationName ?? '')
      .digest('base64url');
    const cached = this.cache.get(key);
    if (cached) return cached;

    const operationContext = buildOperationContext({
      schema: this.apiSchema,
      operationDocument: document,
      operationName: operationName ?? undefined,
    });
    if (operationContext.operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      throw new GraphQLError('Only subscriptions are served here.');
    }
    const queryPlan = this.planning.plan(document, operationName ?? undefined);
    const node = queryPlan.node;
    if (node?.kind !== 'Subscription') {
      throw new GraphQLError('The operation did not plan as a subscription.');
    }
    const plan: SubscriptionPlan = {
      primary: node.primary,
      rest: node.rest,
      shared: this.isShared(operationContext),
      operationContext,
      shape: compileShape(this.apiSchema, operationContext.operation, document),
      key,
    };
    if (this.cache.size >= MAX_CACHED_PLANS) {
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, plan);
    return plan;
  }

  private isShared(operationContext: OperationContext): boolean {
    const fields = this.planning.supergraphSchema.getSubscriptionType()?.getFields();
    const selections = operationContext.operation.selectionSet.selections;
    // One root field per subscription (graphql validation guarantees it).
    const root = selections[0];
    if (!fields || root?.kind !== Kind.FIELD) return false;
    const directives = fields[root.name.value]?.astNode?.directives ?? [];
    return directives.some((d) => d.name.value === SHARED_DIRECTIVE);
  }
}
