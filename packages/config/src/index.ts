import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * Where local state lives (generated dev keys, service data): `.arcadia/` at
 * the repository root, outside git.
 */
export const defaultArcadiaHome = fileURLToPath(new URL('../../../.arcadia', import.meta.url));

/** Raised when the environment does not describe a valid configuration; lists every problem. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Shape = Record<string, z.ZodType>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parses the environment once for a service. Keys of `shape` are variable
 * names; every invalid or missing one is reported together, and the result
 * is frozen so nothing can drift from what was validated at start-up.
 */
export function parseEnv<S extends Shape>(
  service: string,
  shape: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<z.ZodObject<S>>> {
  // Empty strings mean "unset", as in most .env tooling.
  const input = Object.fromEntries(
    Object.keys(shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return deepFreeze(result.data);
}

/** Schema helpers for the shapes environment variables come in. */
export const env = {
  /** A TCP port; 0 asks the OS for a free one. */
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A positive integer with a default. */
  int: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  /** A URL with a default. */
  url: (fallback?: string) => (fallback === undefined ? z.url() : z.url().default(fallback)),
  /** `true`/`false`/`1`/`0`. */
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  /** A comma-separated list, trimmed, empty entries dropped. */
  list: (fallback: string[] = []) =>
    z
      .string()
      .default(fallback.join(','))
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  /** `name=url,name=url` pairs, e.g. subgraph URL overrides. */
  map: () =>
    z
      .string()
      .default('')
      .transform((v, ctx) => {
        const out: Record<string, string> = {};
        for (const pair of v.split(',').filter((s) => s.trim())) {
          const at = pair.indexOf('=');
          if (at <= 0) {
            ctx.addIssue({ code: 'custom', message: `expected name=value, got "${pair}"` });
            continue;
          }
          out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
        }
        return out;
      }),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: () => z.enum(['development', 'test', 'production']).default('development'),
};

/**
 * Variables for the shared local services, with the localhost defaults that
 * `npm run services` starts. Services spread the ones they use into their shape.
 */
export const servicesEnv = {
  /**
   * Where a process listens (GraphQL for the router and subgraphs; `/health`,
   * `/ready` and `/metrics` for workers) and how much it logs.
   */
  process: (defaultPort: number) => ({
    PORT: env.port(defaultPort),
    /** Interface to listen on; 0.0.0.0 in a container. */
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: env.logLevel(),
  }),
  /**
   * Where `/metrics` is served: off the public port, on loopback by default,
   * for the operator's scraper only (metrics name operations, subgraphs and
   * error rates). 0: any free port (tests, several instances on one host).
   */
  metrics: (defaultPort: number) => ({
    METRICS_PORT: env.port(defaultPort),
    /** 0.0.0.0 in a container whose scraper runs in another container. */
    METRICS_HOST: z.string().default('127.0.0.1'),
  }),
  postgres: { DATABASE_URL: env.url('postgres://arcadia:arcadia@127.0.0.1:5432/arcadia') },
  redis: { REDIS_URL: env.url('redis://127.0.0.1:6379') },
  /**
   * The cache Redis (`redis-cache`, port 6380): no persistence, a `maxmemory`
   * with `allkeys-lru`, so what is cached there (the router's persisted
   * queries) makes room by evicting itself and can never fill the memory of
   * REDIS_URL's server, whose job queues must not be evicted.
   */
  cacheRedis: { APQ_REDIS_URL: env.url('redis://127.0.0.1:6380') },
  cassandra: {
    CASSANDRA_CONTACT_POINTS: env.list(['127.0.0.1:9042']),
    CASSANDRA_LOCAL_DATACENTER: z.string().default('datacenter1'),
    /** Keyspace replication as CQL map JSON; SimpleStrategy RF1 suits one local node. */
    CASSANDRA_REPLICATION: z
      .string()
      .default("{'class': 'SimpleStrategy', 'replication_factor': 1}"),
  },
  /**
   * Signing keys. In production JWT_KEYS (a private JWKS, first key signs)
   * and INTERNAL_SECRETS come from the secret store; locally both are
   * generated on first run into $ARCADIA_HOME/keys.json.
   */
  keys: {
    ARCADIA_HOME: z.string().default(defaultArcadiaHome),
    JWT_KEYS: z.string().optional(),
    INTERNAL_SECRETS: env.list(),
  },
  s3: {
    S3_ENDPOINT: env.url('http://127.0.0.1:9000'),
    S3_REGION: z.string().default('us-east-1'),
    S3_ACCESS_KEY_ID: z.string().default('S3RVER'),
    S3_SECRET_ACCESS_KEY: z.string().default('S3RVER'),
    S3_FORCE_PATH_STYLE: env.bool(true),
  },
} as const;
