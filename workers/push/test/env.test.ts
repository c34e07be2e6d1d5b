import { describe, expect, it } from 'vitest';
import { ConfigError } from '@arcadia/config';
import { generateVapidKeys } from '@arcadia/push';
import { parsePushWorkerEnv } from '../src/env.js';

describe('the push worker configuration', () => {
  it('defaults to the log provider on the local services', () => {
    expect(parsePushWorkerEnv({})).toMatchObject({
      PUSH_PROVIDER: 'log',
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'arcadia',
      PUSH_PREFIX: 'arcadia:',
    });
  });

  it('takes VAPID keys for Web Push', () => {
    const keys = generateVapidKeys();
    const config = parsePushWorkerEnv({
      PUSH_PROVIDER: 'webpush',
      VAPID_PUBLIC_KEY: keys.publicKey,
      VAPID_PRIVATE_KEY: keys.privateKey,
      VAPID_SUBJECT: 'https://arcadia.example/contact',
    });
    expect(config).toMatchObject({ PUSH_PROVIDER: 'webpush', VAPID_PUBLIC_KEY: keys.publicKey });
  });

  it('reports every problem at once, the VAPID variables Web Push lacks included', () => {
    let error: unknown;
    try {
      parsePushWorkerEnv({
        PUSH_PROVIDER: 'webpush',
        VAPID_PUBLIC_KEY: 'too-short',
        VAPID_SUBJECT: 'push@arcadia.example',
        PUSH_CONCURRENCY: '0',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/VAPID_PUBLIC_KEY: expected 65 bytes/);
    expect(problems).toMatch(/VAPID_PRIVATE_KEY: required when PUSH_PROVIDER is webpush/);
    expect(problems).toMatch(/VAPID_SUBJECT: expected a mailto: or https: URL/);
    expect(problems).toMatch(/PUSH_CONCURRENCY/);
  });
});
