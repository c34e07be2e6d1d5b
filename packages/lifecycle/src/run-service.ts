import { join } from 'node:path';
import { loadKeyMaterial, type KeyMaterial } from '@arcadia/auth';
import { ConfigError } from '@arcadia/config';
import { createLogger, type Logger } from '@arcadia/observability';
import { closeOnSignals } from './signals.js';

/** What every service's configuration has: where to listen and how much to log. */
export interface ServiceConfig {
  readonly PORT: number;
  readonly HOST: string;
  readonly LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Port of the separate `/metrics` listener, for a service that has one (see {@link Service.listenMetrics}). */
  readonly METRICS_PORT?: number | undefined;
  /** Interface of the `/metrics` listener; 127.0.0.1 by default. */
  readonly METRICS_HOST?: string | undefined;
}

/** Configuration of a service that signs or verifies tokens or the router's caller header. */
export interface KeyedConfig {
  readonly ARCADIA_HOME: string;
  readonly JWT_KEYS?: string | undefined;
  readonly INTERNAL_SECRETS: readonly string[];
}

/** Key material when the configuration names keys, nothing otherwise. */
export type KeysOf<C> = C extends KeyedConfig ? KeyMaterial : undefined;

/** What a service's `start` is given, in the order runService makes it. */
export interface StartContext<C> {
  readonly config: C;
  readonly logger: Logger;
  /** Loaded from `JWT_KEYS`/`INTERNAL_SECRETS`, or the local keys file, when the config has them. */
  readonly keys: KeysOf<C>;
}

/** A started service, not yet listening. */
export interface Service {
  /** Serves GraphQL (subgraphs, router) or probes and metrics (workers); resolves to the URL. */
  listen(port: number, host: string): Promise<string>;
  /**
   * Serves `/metrics` on a port of its own (services whose public port
   * serves clients); resolves to the metrics URL. Called after `listen`
   * when the configuration has METRICS_PORT.
   */
  listenMetrics?(port: number, host: string): Promise<string>;
  /** Stops taking work, lets what is running finish, releases stores and connections. */
  close(): Promise<void>;
}

/** One service, as its `src/index.ts` describes it to {@link runService}. */
export interface ServiceDefinition<C extends ServiceConfig> {
  /** Its name in logs and metrics: `router`, `accounts`, `media-worker`, … */
  readonly name: string;
  /** Parses and validates the environment; throws a ConfigError listing every problem. */
  readonly config: (env: Record<string, string | undefined>) => C;
  /** Opens stores and connections and builds the server or worker. */
  readonly start: (context: StartContext<C>) => Promise<Service>;
  /** A line for the human at the terminal once listening (the router's Sandbox URL). */
  readonly banner?: (url: string) => string;
}

function hasKeys(config: object): config is KeyedConfig {
  return 'INTERNAL_SECRETS' in config && 'ARCADIA_HOME' in config;
}

/**
 * Starts a service the one way every Arcadia process starts: configuration
 * (every problem reported at once, exit 1) → logger → process-wide error
 * handlers → keys → `start` → listen on `PORT` → graceful close on
 * SIGTERM/SIGINT (running work finishes, then stores close, then exit 0).
 * The only caller of `process.env` in a service is this function's caller.
 */
export async function runService<C extends ServiceConfig>(
  definition: ServiceDefinition<C>,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  let config: C;
  try {
    config = definition.config(env);
  } catch (error) {
    // Before a logger exists: plain stderr, every problem listed by ConfigError.
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(definition.name, config.LOG_LEVEL);

  // One failed request must not take every other in-flight request down
  // with the process: a stray rejection is logged loudly and the service
  // keeps serving. An uncaught exception leaves state unknown, so the
  // process closes gracefully and exits non-zero for the orchestrator to
  // restart it.
  let shutdown: ((reason: string, exitCode?: number) => void) | undefined;
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    if (shutdown) shutdown('uncaughtException', 1);
    else process.exit(1);
  });

  try {
    const keys = (
      hasKeys(config)
        ? await loadKeyMaterial({
            jwtKeysJson: config.JWT_KEYS,
            internalSecrets: config.INTERNAL_SECRETS,
            localFile: join(config.ARCADIA_HOME, 'keys.json'),
          })
        : undefined
    ) as KeysOf<C>;
    const service = await definition.start({ config, logger, keys });
    shutdown = closeOnSignals(() => service.close(), logger);
    const url = await service.listen(config.PORT, config.HOST);
    logger.info({ url }, `${definition.name} listening`);
    if (service.listenMetrics && config.METRICS_PORT !== undefined) {
      const metricsUrl = await service.listenMetrics(
        config.METRICS_PORT,
        config.METRICS_HOST ?? '127.0.0.1',
      );
      logger.info({ url: metricsUrl }, `${definition.name} metrics listening`);
    }
    if (definition.banner) process.stdout.write(`${definition.banner(url)}\n`);
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
}
