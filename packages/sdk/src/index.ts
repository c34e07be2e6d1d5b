/**
 * `@arcadia/sdk`: Arcadia's public operations as typed documents, generated
 * from the API schema the router serves and the curated operations in
 * `operations/` (one file per domain). Each `…Document` is a
 * `TypedDocumentNode` that carries its result and variables types, so any
 * GraphQL client that understands typed documents (graphql-request, urql,
 * Apollo Client, graphql-ws) checks calls against the schema.
 */
export * from './generated/graphql.js';
