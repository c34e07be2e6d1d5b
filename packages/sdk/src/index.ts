/**
 * `@arcadia/sdk`: Arcadia's public operations as typed documents, generated
 * from the API schema the router serves and the curated operations in
 * `operations/` (one file per domain), and the client that sends them
 * (`createArcadiaClient`). Each `…Document` is a `TypedDocumentNode` that
 * carries its result and variables types, so any GraphQL client that
 * understands typed documents (graphql-request, urql, Apollo Client,
 * graphql-ws) checks calls against the schema too.
 */
export * from './generated/graphql.js';
export {
  createArcadiaClient,
  type ArcadiaClient,
  type ArcadiaClientOptions,
  type RequestOptions,
  type SessionAuthOptions,
  type VariablesArgs,
} from './client/index.js';
export type { ClientCredentialsAuthOptions } from './client/client-credentials.js';
export {
  ARCADIA_ERROR_CODES,
  ArcadiaError,
  ArcadiaNetworkError,
  isArcadiaError,
  type ArcadiaErrorCode,
  type ArcadiaGraphQLError,
  type UnauthenticatedReason,
} from './client/errors.js';
export { IDEMPOTENCY_KEYS, type RetryOptions } from './client/retry.js';
export type { ArcadiaClientEvents, SessionApi, SignedOutReason } from './client/session.js';
export {
  localSessionStorage,
  memorySessionStorage,
  type SessionStorage,
  type StoredSession,
} from './client/storage.js';
export type { UploadImageOptions, UploadProgress } from './client/upload.js';
