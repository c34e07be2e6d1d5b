import { describe, expect, it } from 'vitest';
import {
  createWebPushProvider,
  encodePayload,
  generateVapidKeys,
  MAX_PAYLOAD_BYTES,
  topicFor,
  type PushNotification,
} from '../src/index.js';

const notification = (body: string): PushNotification => ({
  userId: 'u1',
  title: 'Nova',
  body,
  tag: 'chat:c1',
  count: 2,
  url: '/chat/c1',
});

describe('the Web Push payload', () => {
  it('carries title, body, url, tag, count and data as JSON, without the user id', () => {
    expect(JSON.parse(encodePayload({ ...notification('hi'), data: { a: 'b' } }))).toEqual({
      title: 'Nova',
      body: 'hi',
      url: '/chat/c1',
      tag: 'chat:c1',
      count: 2,
      data: { a: 'b' },
    });
  });

  it('shortens a body too long for a push message, ending it with an ellipsis', () => {
    const payload = encodePayload(notification('😀'.repeat(5000)));
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    const { body } = JSON.parse(payload) as { body: string };
    expect(body.endsWith('😀…')).toBe(true);
    expect(body.length).toBeGreaterThan(1500);
  });

  it('uses a topic push services accept: at most 32 base64url characters', () => {
    expect(topicFor('chat:a-very-long-conversation-id-0123456789')).toMatch(/^[\w-]{32}$/);
  });
});

describe('the Web Push provider', () => {
  it('refuses to start with VAPID details push services would not accept', () => {
    const keys = generateVapidKeys();
    const make =
      (subject: string, privateKey = keys.privateKey) =>
      () =>
        createWebPushProvider({
          vapidPublicKey: keys.publicKey,
          vapidPrivateKey: privateKey,
          subject,
        });
    expect(make('mailto:push@arcadia.example')).not.toThrow();
    expect(make('push@arcadia.example')).toThrow(/subject/i);
    expect(make('mailto:push@arcadia.example', 'AAAA')).toThrow(/private key/i);
  });
});
