/**
 * Starts the push worker: `tsx workers/push/src/index.ts`. Configuration comes
 * from the environment (see env.ts); run as many instances as wanted.
 * SIGTERM lets running jobs finish, then exits. `/health`, `/ready` and
 * `/metrics` are served on PORT.
 */
import { runService, workerService } from '@arcadia/lifecycle';
import { createPushDevices } from '@arcadia/push';
import { createRedisConnection } from '@arcadia/redis';
import { parsePushWorkerEnv } from './env.js';
import { providerFor, startPushWorker } from './run.js';

await runService({
  name: 'push-worker',
  config: parsePushWorkerEnv,
  // eslint-disable-next-line @typescript-eslint/require-await -- runService awaits every start
  async start({ config, logger }) {
    // Jobs retry with backoff, so a device lookup fails fast while Redis is away.
    const redis = createRedisConnection({
      url: config.REDIS_URL,
      name: 'push-devices',
      use: 'commands',
      logger,
    });
    const devices = createPushDevices({ redis, prefix: config.PUSH_PREFIX });
    const provider = providerFor(config, logger);
    const worker = startPushWorker({ config, devices, provider, logger });
    return workerService({
      name: 'push-worker',
      logger,
      readiness: async () => {
        await redis.ping();
      },
      async close() {
        await worker.close();
        await redis.close();
      },
    });
  },
});
