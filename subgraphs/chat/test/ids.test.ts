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

  it('are refused when their time is before the Unix epoch', () => {
    const conversationId = randomUUID();
    // 1582-10-15, the first instant a timeuuid can hold, and the last millisecond before 1970.
    for (const timeId of ['00000000-0000-1000-8000-000000000000', timeIdAt(-1000)]) {
      expect(decodeMessageId(encodeMessageId({ conversationId, timeId }))).toBeNull();
    }
    const epoch = { conversationId, timeId: timeIdAt(0) };
    expect(decodeMessageId(encodeMessageId(epoch))).toEqual(epoch);
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

  it.each([
    // Dates JavaScript holds but PostgreSQL's timestamptz does not.
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    // Before any conversation could have been active.
    '1969-12-31T23:59:59.999Z',
    // Dates never written by a cursor: other spellings, and days that roll over.
    '2024-01-01',
    '2024-01-01T00:00:00Z',
    '2024-02-30T00:00:00.000Z',
    '1e300',
  ])('are refused when they hold the date %j', (at) => {
    const cursor = Buffer.from(`${at}|${randomUUID()}`).toString('base64url');
    expect(decodeConversationCursor(cursor)).toBeNull();
  });
});
