import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import { printSchema } from 'graphql';

/** The committed supergraph the router serves. */
export const SUPERGRAPH_PATH = fileURLToPath(
  new URL('../../schema/supergraph.graphql', import.meta.url),
);

/**
 * The schema clients see: the supergraph's API schema (what the router
 * validates operations against), without federation's join and link
 * machinery and without `@inaccessible` elements.
 */
export function apiSchemaSdl(supergraphSdl = readFileSync(SUPERGRAPH_PATH, 'utf8')): string {
  return printSchema(Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema());
}
