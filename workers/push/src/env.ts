import { z } from 'zod';
import { ConfigError, parseEnv, servicesEnv } from '@arcadia/config';
import { pushEnv } from '@arcadia/push';

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected base64url without padding')
    .refine((v) => Buffer.from(v, 'base64url').length === bytes, `expected ${bytes} bytes`)
    .optional();

const shape = {
  ...servicesEnv.process(4104),
  ...servicesEnv.redis,
  /** BullMQ key prefix; producers and workers must agree. */
  QUEUE_PREFIX: z.string().min(1).default('arcadia'),
  PUSH_PREFIX: pushEnv.PUSH_PREFIX,
  /** How notifications leave: `log` writes them to the log, `webpush` sends them (VAPID). */
  PUSH_PROVIDER: z.enum(['log', 'webpush']).default('log'),
  /** The application server key clients subscribe with (P-256 public key, base64url). */
  VAPID_PUBLIC_KEY: base64url(65),
  /** Its private key (base64url); a secret. */
  VAPID_PRIVATE_KEY: base64url(32),
  /** A contact for push services: `mailto:` or an `https:` URL. */
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:.+|https:\/\/.+)$/, 'expected a mailto: or https: URL')
    .optional(),
  /** How long a push service keeps a notification for a device that is offline. */
  PUSH_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(28 * 24 * 3600)
    .default(24 * 3600),
  /** Time allowed for one request to a push service. */
  PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Jobs this worker instance runs at once (each waits on push services, not the CPU). */
  PUSH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
};

const VAPID = ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'] as const;

/** The push worker's validated configuration. */
export type PushWorkerConfig = ReturnType<typeof parsePushWorkerEnv>;

/**
 * Reads the worker configuration from `source` (the process environment by
 * default); throws a ConfigError listing every invalid variable, the VAPID
 * variables included when `PUSH_PROVIDER=webpush` needs them.
 */
export function parsePushWorkerEnv(source: Record<string, string | undefined> = process.env) {
  const problems: string[] = [];
  let config: Readonly<z.infer<z.ZodObject<typeof shape>>> | undefined;
  try {
    config = parseEnv('push-worker', shape, source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (source.PUSH_PROVIDER === 'webpush') {
    for (const name of VAPID) {
      if (!source[name]) problems.push(`${name}: required when PUSH_PROVIDER is webpush`);
    }
  }
  if (problems.length || !config) throw new ConfigError('push-worker', problems);
  return config;
}
