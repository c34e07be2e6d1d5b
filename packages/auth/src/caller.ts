/** Roles of docs/architecture.md. */
export const ROLES = ['USER', 'STREAMER', 'MODERATOR', 'STAFF', 'ADMIN', 'PARTNER'] as const;
/** A role a user can hold. */
export type Role = (typeof ROLES)[number];

/**
 * Who is making a request, as verified by the router and handed to
 * subgraphs. `userId` is null for anonymous callers.
 */
export interface Caller {
  readonly userId: string | null;
  readonly roles: readonly Role[];
  /** Scopes of a partner client token; empty for interactive sessions. */
  readonly scopes: readonly string[];
  /** Partner API client that obtained the token, if any. */
  readonly clientId?: string;
  /** Refresh-token family the access token belongs to (sign-out revokes it). */
  readonly sessionId?: string;
  /**
   * The user's display name when the token was issued (the OIDC `name`
   * claim): lets a subgraph label what the caller does (a push notification's
   * sender) without asking accounts. At most one token lifetime out of date.
   */
  readonly name?: string;
  /**
   * The client's IP address as the router saw it (the TCP peer, or
   * `X-Forwarded-For` from a trusted proxy): what per-address limits count.
   */
  readonly clientAddress?: string;
}

/** The caller of a request without a token. */
export const ANONYMOUS: Caller = Object.freeze({ userId: null, roles: [], scopes: [] });

/** True when the caller holds `role`; ADMIN holds every role. */
export function hasRole(caller: Caller, role: Role): boolean {
  return caller.roles.includes(role) || caller.roles.includes('ADMIN');
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
