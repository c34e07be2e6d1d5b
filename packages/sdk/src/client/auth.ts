import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/**
 * Sends one operation without any of the client's authentication handling:
 * with exactly `token` (null: anonymous), retried like any other safe
 * operation. What the auth strategies use for their own mutations.
 */
export type RawCall = <TData, TVariables extends Record<string, unknown>>(
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  options: { token: string | null; idempotent?: boolean },
) => Promise<TData>;

/** How the client authenticates its requests and sockets. */
export interface AuthStrategy {
  /** The access token to send now (renewed first when it is about to end), or null for none. */
  accessToken(): Promise<string | null>;
  /**
   * A request or socket with `token` was refused as UNAUTHENTICATED (`reason`
   * from the router). Resolves true when a new token is in place and one
   * replay may succeed; false when it may not (the session is over).
   */
  rejected(token: string, reason: string | undefined): Promise<boolean>;
}

/** Milliseconds until `expiresAt` (ISO-8601); NaN-safe (an unreadable date counts as expired). */
export function msUntil(expiresAt: string, now = Date.now()): number {
  const at = Date.parse(expiresAt);
  return Number.isNaN(at) ? 0 : at - now;
}
