import { IssueClientTokenDocument, RefreshSessionDocument } from '../generated/graphql.js';
import { msUntil, type AuthStrategy, type RawCall } from './auth.js';
import { ArcadiaNetworkError } from './errors.js';

/** Partner tools: a session exchanged for an API client's credentials. */
export interface ClientCredentialsAuthOptions {
  kind: 'clientCredentials';
  clientId: string;
  clientSecret: string;
  /** Refresh this long before the access token ends. Default 60. */
  refreshBeforeSeconds?: number;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

/**
 * Client credentials: `issueClientToken` on first use, `refreshSession`
 * `refreshBeforeSeconds` before the token ends, and a new
 * `issueClientToken` when the refresh is refused (or the session was
 * revoked) — the credentials are the long-lived secret here. Tokens stay
 * in memory; single-flight like user sessions.
 */
export function createClientCredentialsAuth(
  options: ClientCredentialsAuthOptions,
  call: RawCall,
): AuthStrategy {
  const refreshBeforeMs = (options.refreshBeforeSeconds ?? 60) * 1000;
  let tokens: Tokens | null = null;
  let inFlight: Promise<Tokens> | null = null;

  const issue = async () => {
    const data = await call(
      IssueClientTokenDocument,
      { clientId: options.clientId, clientSecret: options.clientSecret },
      { token: null },
    );
    return data.issueClientToken;
  };

  /** New tokens for `stale` (null: none usable), unless they were renewed meanwhile. */
  const renew = (stale: Tokens | null): Promise<Tokens> => {
    inFlight ??= (async () => {
      if (tokens && tokens !== stale) return tokens;
      if (stale) {
        try {
          const data = await call(
            RefreshSessionDocument,
            { refreshToken: stale.refreshToken },
            { token: null, idempotent: true },
          );
          return (tokens = data.refreshSession);
        } catch (error) {
          // Unreachable: the credentials would not get through either.
          if (error instanceof ArcadiaNetworkError) throw error;
        }
      }
      tokens = null;
      return (tokens = await issue());
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  return {
    async accessToken() {
      const current = tokens;
      if (current && msUntil(current.expiresAt) > refreshBeforeMs) return current.accessToken;
      return (await renew(current)).accessToken;
    },
    async rejected(token, reason) {
      const current = tokens;
      if (current && current.accessToken !== token) return true;
      if (reason === 'SESSION_REVOKED' || !current) {
        tokens = null;
        await renew(null);
      } else {
        await renew(current);
      }
      return true;
    },
  };
}
