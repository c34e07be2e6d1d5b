/**
 * Where accounts tells routers that a session ended (sign-out, refresh-token
 * reuse): a Redis key per revoked session, living as long as an access
 * token can (after that no token of the session is valid anyway), and a
 * pub/sub channel so every router instance ends the session's open streams
 * at once. Accounts writes, routers read; both configure the same prefix.
 */

/** The default of `SESSION_REVOCATION_PREFIX` in accounts and the router. */
export const SESSION_REVOCATION_PREFIX_DEFAULT = 'arcadia:sessions:';

/** The key that marks session `sessionId` revoked. */
export function revokedSessionKey(prefix: string, sessionId: string): string {
  return `${prefix}revoked:${sessionId}`;
}

/** The channel on which each revoked session id is published. */
export function sessionRevokedChannel(prefix: string): string {
  return `${prefix}revoked`;
}
