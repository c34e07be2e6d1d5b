import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeConversationCursor,
  decodeMessageId,
  encodeConversationCursor,
  encodeMessageId,
  sortKey,
} from '../src/ids.js';
import { timeIdAt } from '../src/store/index.js';

describe('message ids', () => {
  it('carry their conversation and time id and come back intact', () => {
    const ref = { conversationId: randomUUID(), timeId: timeIdAt(1_763_900_000_123_456) };
    const id = encodeMessageId(ref);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(decodeMessageId(id)).toEqual(ref);
  });

  it('are refused when they are not message ids', () => {
    expect(decodeMessageId('')).toBeNull();
    expect(decodeMessageId('not-an-id')).toBeNull();
    // A random (version 4) uuid where the time id should be.
    const forged = Buffer.from((randomUUID() + randomUUID()).replace(/-/g, ''), 'hex').toString(
      'base64url',
    );
    expect(decodeMessageId(forged)).toBeNull();
  });

  it('sort in the order their messages were sent, to the microsecond', () => {
    const base = 1_763_900_000_000_000;
    const keys = [0, 1, 999, 1000, 1001, 86_400_000_000].map((d) => sortKey(timeIdAt(base + d)));
    expect([...keys].sort()).toEqual(keys);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('conversation cursors', () => {
  it('hold the last activity and id of the last conversation of a page', () => {
    const at = new Date('2026-11-23T10:00:00.000Z');
    const id = randomUUID();
    expect(decodeConversationCursor(encodeConversationCursor(at, id))).toEqual({ at, id });
    expect(decodeConversationCursor('garbage')).toBeNull();
  });
});
