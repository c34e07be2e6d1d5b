/**
 * Message ids and cursors. A message id carries its conversation and its
 * time-ordered id within it, so any message is found with one partition read
 * and nothing else: `base64url(conversation uuid ‖ timeuuid)`.
 */
import { isUuid } from '@arcadia/subgraph-kit';

/** Where a message lives. */
export interface MessageRef {
  readonly conversationId: string;
  /** The timeuuid, canonical string form. */
  readonly timeId: string;
}

const hexToUuid = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** 100-ns ticks from the Gregorian epoch (1582-10-15) to the Unix epoch. */
const UNIX_EPOCH_TICKS = 122_192_928_000_000_000n;

/** The public id of a message. */
export function encodeMessageId(ref: MessageRef): string {
  const hex = ref.conversationId.replace(/-/g, '') + ref.timeId.replace(/-/g, '');
  return Buffer.from(hex, 'hex').toString('base64url');
}

/** The message a public id points at; null for anything that is not one. */
export function decodeMessageId(id: string): MessageRef | null {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
  const hex = Buffer.from(id, 'base64url').toString('hex');
  if (hex.length !== 64) return null;
  const conversationId = hexToUuid(hex.slice(0, 32));
  const timeId = hexToUuid(hex.slice(32));
  // Version 1 (time-based) in the time id, at or after the Unix epoch: no message is older,
  // and a time before it has no Unix milliseconds to find its partition with.
  if (!isUuid(conversationId) || timeId[14] !== '1') return null;
  if (timeuuidTicks(timeId) < UNIX_EPOCH_TICKS) return null;
  return { conversationId, timeId };
}

/**
 * 100-ns ticks since the Gregorian epoch of a version-1 UUID: the order
 * Cassandra sorts timeuuids in, and the order of messages.
 */
export function timeuuidTicks(timeId: string): bigint {
  const hex = timeId.replace(/-/g, '');
  const high = hex.slice(13, 16);
  const mid = hex.slice(8, 12);
  const low = hex.slice(0, 8);
  return BigInt(`0x${high}${mid}${low}`);
}

/** A fixed-width string that sorts like the message times: the unread sets' members. */
export function sortKey(timeId: string): string {
  return timeuuidTicks(timeId).toString(16).padStart(16, '0');
}

/** The conversation-list cursor: last activity and id, the list's sort key. */
export function encodeConversationCursor(lastActivityAt: Date, id: string): string {
  return Buffer.from(`${lastActivityAt.toISOString()}|${id}`).toString('base64url');
}

// The dates a cursor may hold: what encodeConversationCursor writes (toISOString of a
// four-digit year) from the Unix epoch on. Anything else (`+275760-…`, years PostgreSQL
// cannot store, other spellings) was never handed out.
const CURSOR_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The sort key a conversation-list cursor holds; null when it is not one. */
export function decodeConversationCursor(cursor: string): { at: Date; id: string } | null {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !isUuid(id) || !CURSOR_DATE.test(at)) return null;
  const date = new Date(at);
  // Round-tripping refuses impossible dates (`2024-02-30…`) that Date would roll over.
  if (Number.isNaN(date.getTime()) || date.toISOString() !== at || date.getTime() < 0) return null;
  return { at: date, id };
}
