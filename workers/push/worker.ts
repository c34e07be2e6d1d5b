/**
 * Starts the push worker: `tsx workers/push/worker.ts`. Configuration comes
 * from the environment (see src/env.ts); run as many instances as wanted.
 * SIGTERM lets running jobs finish, then exits.
 */
import { Redis } from 'ioredis';
import { createLogger } from '@arcadia/observability';
import { createPushDevices } from '@arcadia/push';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parsePushWorkerEnv } from './src/env.js';
import { providerFor, startPushWorker } from './src/run.js';

const config = parsePushWorkerEnv();
const logger = createLogger('push-worker', config.LOG_LEVEL);

const redis = new Redis(config.REDIS_URL);
// Without a listener an 'error' event would crash the process; ioredis reconnects by itself.
redis.on('error', (error) => logger.warn({ err: error }, 'device registry connection problem'));
const devices = createPushDevices({ redis, prefix: config.PUSH_PREFIX });
const provider = providerFor(config, logger);
const worker = startPushWorker({ config, devices, provider, logger });

closeOnSignals(async () => {
  await worker.close();
  await redis.quit();
}, logger);
