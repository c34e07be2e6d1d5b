import type { GraphQLSchema } from 'graphql';

/** What the plan analyses read of the supergraph (the router's `Planning` provides it). */
export interface SupergraphFacts {
  readonly supergraphSchema: GraphQLSchema;
  /** The subgraph a `join__Graph` enum value names. */
  subgraphOf(graph: string): string | undefined;
  /** The keys a subgraph declares for a type. */
  entityKeys(
    subgraph: string,
    type: string,
  ): { readonly resolvable: readonly unknown[] } | undefined;
  /** The top-level fields of the keys a subgraph declares for a type. */
  keyFields(subgraph: string, type: string): ReadonlySet<string>;
}
