import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

/** One subgraph as composition sees it. */
export interface SubgraphDefinition {
  name: string;
  url: string;
  typeDefs: string;
}

/** The outcome of a composition: the supergraph SDL and the hints composition gave. */
export interface Composition {
  supergraphSdl: string;
  hints: { code: string; message: string }[];
}

/** Raised when subgraphs do not compose; lists every error. */
export class CompositionError extends Error {
  constructor(readonly errors: string[]) {
    super(`Composition failed:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'CompositionError';
  }
}

/** Composes federation 2 subgraphs into a supergraph with @apollo/composition. */
export function composeSupergraph(subgraphs: SubgraphDefinition[]): Composition {
  const result = composeServices(
    subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.typeDefs) })),
  );
  if (result.errors?.length || !result.supergraphSdl) {
    throw new CompositionError((result.errors ?? []).map((e) => e.message));
  }
  return {
    supergraphSdl: result.supergraphSdl,
    hints: result.hints.map((h) => ({ code: h.definition.code, message: h.message })),
  };
}
