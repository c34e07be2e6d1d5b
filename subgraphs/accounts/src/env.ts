import { z } from 'zod';
import { SESSION_REVOCATION_PREFIX_DEFAULT } from '@arcadia/auth';
import { ConfigError, env, parseEnv, servicesEnv } from '@arcadia/config';

const shape = {
  ...servicesEnv.process(4001),
  ...servicesEnv.metrics(9401),
  DATABASE_URL: env.url('postgres://arcadia:arcadia@127.0.0.1:5432/arcadia_accounts'),
  /**
   * Emails that become ADMIN at sign-up, or at their next sign-in when added
   * later. The way to get the first ADMIN without a default password.
   */
  ADMIN_EMAILS: env.list().transform((emails) => emails.map((e) => e.toLowerCase())),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).default(30),
  /**
   * How long a spent refresh token may be presented again and get the same
   * successor pair instead of revoking its session: two tabs refreshing at
   * once. Auth0's "reuse interval", Okta's grace period (30 s by default).
   * 0 turns it off: any second use revokes. Capped so a stolen token's
   * window stays short.
   */
  REFRESH_REUSE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  // argon2id cost: the defaults are OWASP's recommendation (19 MiB, 2 passes,
  // 1 lane). Tests lower them; production should not.
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(8).max(4_194_304).default(19_456),
  ARGON2_TIME_COST: z.coerce.number().int().min(1).max(100).default(2),
  ARGON2_PARALLELISM: z.coerce.number().int().min(1).max(255).default(1),
  ...servicesEnv.redis,
  /** Prefix of accounts' own Redis keys (brute-force limits). */
  REDIS_KEY_PREFIX: z.string().min(1).default('arcadia:'),
  /**
   * Prefix of the revoked-session keys and channel. Not REDIS_KEY_PREFIX:
   * every router reads them, so accounts and the router configure the same value.
   */
  SESSION_REVOCATION_PREFIX: z.string().min(1).default(SESSION_REVOCATION_PREFIX_DEFAULT),
  // Brute-force limits on signIn and issueClientToken: attempts per account
  // (email or client id, existing or not) and per client address within the
  // window, then a block that doubles with each block in a day, up to the cap.
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().min(1).default(10),
  SIGN_IN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
  SIGN_IN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  SIGN_IN_BLOCK_SECONDS: z.coerce.number().int().min(1).default(60),
  SIGN_IN_MAX_BLOCK_SECONDS: z.coerce.number().int().min(1).default(86_400),
  ...servicesEnv.keys,
};

/** The accounts subgraph's validated configuration. */
export type AccountsConfig = ReturnType<typeof parseAccountsEnv>;

/**
 * Reads the accounts configuration from `source` (the process environment by
 * default); throws a ConfigError listing every invalid variable.
 */
export function parseAccountsEnv(source: Record<string, string | undefined> = process.env) {
  const config = parseEnv('accounts', shape, source);
  if (config.ARGON2_MEMORY_KIB < 8 * config.ARGON2_PARALLELISM) {
    // argon2 needs at least 8 KiB per lane; say so at start-up, not at the first sign-up.
    throw new ConfigError('accounts', [
      'ARGON2_MEMORY_KIB: must be at least 8 × ARGON2_PARALLELISM',
    ]);
  }
  return config;
}
