/**
 * Brute-force limits on credential checks (`signIn`, `issueClientToken`), in
 * Redis so every replica shares them. An attempt takes a point *before* the
 * credential is checked, so a refused attempt costs no argon2 hash and
 * concurrent attempts cannot slip past the count. Two limits, as in
 * rate-limiter-flexible's "login endpoint protection" pattern:
 *
 * - per account (email or client id, whether or not it exists, so the
 *   answer does not reveal which exist): `maxFailures` attempts per window,
 *   then blocked for `blockSeconds`, doubling with each block in a day up
 *   to `maxBlockSeconds`; a success clears it;
 * - per client address: `maxFailuresPerAddress` per window, so one address
 *   cannot spray many accounts. Only when the router forwards an address.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '@arcadia/errors';

/** How many attempts are allowed and how the block grows. */
export interface SignInLimitOptions {
  /** Attempts per account within `windowSeconds` before it is blocked. */
  readonly maxFailures: number;
  /** Attempts per client address within `windowSeconds` before it is blocked. */
  readonly maxFailuresPerAddress: number;
  readonly windowSeconds: number;
  /** The first block; each further block within a day doubles it. */
  readonly blockSeconds: number;
  readonly maxBlockSeconds: number;
}

/** One kind of credential (`sign-in`, `client-token`): guards its attempts. */
export interface CredentialLimiter {
  /**
   * Takes an attempt for `account` (and `address` when known) before the
   * credential is checked; throws RATE_LIMITED with `retryAfterSeconds`
   * while either is blocked.
   */
  attempt(account: string, address: string | undefined): Promise<void>;
  /** The credential was right: clears the account's failures and gives the address its point back. */
  succeeded(account: string, address: string | undefined): Promise<void>;
}

/** The limiters of one server. */
export interface SignInLimits {
  readonly signIn: CredentialLimiter;
  readonly clientToken: CredentialLimiter;
}

const DAY_SECONDS = 86_400;

// Keys are hashes: emails do not belong in Redis key names.
const keyOf = (value: string) => createHash('sha256').update(value).digest('base64url');

function createCredentialLimiter(
  redis: Redis,
  prefix: string,
  options: SignInLimitOptions,
): CredentialLimiter {
  const limiter = (name: string, points: number, duration: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}${name}`,
      points,
      duration,
      // When Redis does not answer, limit in this process rather than fail
      // every sign-in or let every attempt through.
      insuranceLimiter: new RateLimiterMemory({ points, duration }),
    });
  const byAccount = limiter('account', options.maxFailures, options.windowSeconds);
  const byAddress = limiter('address', options.maxFailuresPerAddress, options.windowSeconds);
  // How many times an account or address was blocked in the last day: the back-off exponent.
  const blocks = limiter('blocks', Number.MAX_SAFE_INTEGER, DAY_SECONDS);

  async function take(target: RateLimiterRedis, points: number, key: string): Promise<void> {
    try {
      await target.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      if (rejection.consumedPoints !== points + 1) {
        throw rateLimited(rejection.msBeforeNext / 1000, 'Too many sign-in attempts.');
      }
      // The attempt that crossed the allowance (exactly one, the count is
      // atomic) sets the block: longer each time within a day.
      const strikes = (await blocks.consume(`${target.keyPrefix}:${key}`)).consumedPoints;
      const seconds = Math.min(options.blockSeconds * 2 ** (strikes - 1), options.maxBlockSeconds);
      await target.block(key, seconds);
      throw rateLimited(seconds, 'Too many sign-in attempts.');
    }
  }

  return {
    async attempt(account, address) {
      if (address !== undefined)
        await take(byAddress, options.maxFailuresPerAddress, keyOf(address));
      await take(byAccount, options.maxFailures, keyOf(account));
    },
    async succeeded(account, address) {
      const key = keyOf(account);
      await Promise.all([
        byAccount.delete(key),
        blocks.delete(`${byAccount.keyPrefix}:${key}`),
        address === undefined ? undefined : byAddress.reward(keyOf(address)),
      ]);
    },
  };
}

/** Sign-in and client-token limiters on `redis`, under `prefix`. */
export function createSignInLimits(
  redis: Redis,
  prefix: string,
  options: SignInLimitOptions,
): SignInLimits {
  return {
    signIn: createCredentialLimiter(redis, `${prefix}accounts:sign-in:`, options),
    clientToken: createCredentialLimiter(redis, `${prefix}accounts:client-token:`, options),
  };
}
