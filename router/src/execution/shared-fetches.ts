/**
 * Fetches every caller gets alike. A subgraph marks fields whose value does
 * not depend on who asks with Arcadia's `@shared` directive; an entity fetch
 * of only such fields (and keys) may run as the anonymous caller, once for
 * everyone who needs it at the same moment (see `Planning.isSharedFetch`).
 */
import type { FetchNode } from '@apollo/query-planner';
import {
  isObjectType,
  Kind,
  OperationTypeNode,
  parse,
  type OperationDefinitionNode,
} from 'graphql';
import type { SupergraphFacts } from './supergraph-facts.js';

/**
 * The directive a subgraph puts on fields whose values are the same for
 * every caller: on a `Subscription` field, its events; on an object field,
 * its value.
 */
export const SHARED_DIRECTIVE = 'shared';

/**
 * Whether every field an entity fetch selects is `__typename`, a key field
 * of its type, or marked `@shared` (see `Planning.isSharedFetch`).
 * Fetches without representations (root fetches) are never shared.
 */
export function sharedFetch(fetch: FetchNode, planning: SupergraphFacts): boolean {
  if (!fetch.requires || fetch.operationKind !== OperationTypeNode.QUERY) return false;
  const operation = parse(fetch.operation).definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const entities = operation?.selectionSet.selections;
  if (!entities || entities.length !== 1) return false;
  const [root] = entities;
  if (root?.kind !== Kind.FIELD || root.name.value !== '_entities' || !root.selectionSet)
    return false;
  for (const fragment of root.selectionSet.selections) {
    if (fragment.kind !== Kind.INLINE_FRAGMENT || !fragment.typeCondition) return false;
    const type = planning.supergraphSchema.getType(fragment.typeCondition.name.value);
    if (!isObjectType(type)) return false;
    for (const field of fragment.selectionSet.selections) {
      if (field.kind !== Kind.FIELD) return false;
      const name = field.name.value;
      // A key is the entity's identity: the same whoever asks.
      if (
        name === '__typename' ||
        (planning.keyFields(fetch.serviceName, type.name).has(name) && !field.selectionSet)
      ) {
        continue;
      }
      const directives = type.getFields()[name]?.astNode?.directives ?? [];
      if (!directives.some((d) => d.name.value === SHARED_DIRECTIVE)) return false;
      // A @shared field's sub-selection is part of its value: shared as well.
    }
  }
  return true;
}
