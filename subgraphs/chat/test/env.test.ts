import { describe, expect, it } from 'vitest';
import { parseChatEnv } from '../src/env.js';

describe('chat configuration', () => {
  it('has working defaults for the local services', () => {
    const config = parseChatEnv({});
    expect(config).toMatchObject({
      PORT: 4004,
      CASSANDRA_KEYSPACE: 'arcadia_chat',
      CHAT_BUCKET_MS: 3_600_000,
      CHAT_EDIT_WINDOW_SECONDS: 900,
      PRESENCE_PREFIX: 'arcadia:',
      PUSH_PREFIX: 'arcadia:',
    });
  });

  it('reports every invalid variable at once', () => {
    expect(() =>
      parseChatEnv({ CASSANDRA_KEYSPACE: 'Bad-Name', CHAT_BUCKET_MS: '0', PORT: 'x' }),
    ).toThrow(/CASSANDRA_KEYSPACE[\s\S]*CHAT_BUCKET_MS|CHAT_BUCKET_MS[\s\S]*CASSANDRA_KEYSPACE/);
  });
});
