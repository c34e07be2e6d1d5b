/**
 * Messages and receipts in Cassandra.
 *
 * `messages` is partitioned by (conversation, time bucket) and clustered
 * newest first, so a history page is one slice of one or two partitions and
 * no partition grows without bound. `message_buckets` lists the buckets that
 * have messages, so paging back through a quiet conversation skips empty
 * ones without probing them. `client_messages` records which message a
 * sender's `clientMessageId` became: a retried send finds it and returns the
 * first message. Concurrent sends of one client id are told apart by a claim
 * in Redis first (`SET NX`), not by a lightweight transaction here: Paxos
 * would cost four round trips and most of Cassandra's CPU on every send,
 * for a race only a client retrying before its first send answered can
 * start. Rows are written with only the
 * columns that have values: a null would be a tombstone.
 *
 * Receipts move forward only, without a read-before-write or a transaction:
 * each is written with the message's own time as its write timestamp, and
 * Cassandra keeps the cell with the newest timestamp, so a late "read up to
 * an older message" loses to an earlier "read up to a newer one".
 */
import { cassandra, openKeyspace, type CqlMigration, type Keyspace } from '@arcadia/cassandra';
import type { Logger } from '@arcadia/observability';
import { encodeMessageId, timeuuidTicks } from '../ids.js';

const { Long, TimeUuid, Uuid } = cassandra.types;

/** A message as the rest of the domain sees it. */
export interface MessageRow {
  /** Public id (conversation and time id). */
  readonly id: string;
  readonly conversationId: string;
  /** The timeuuid within the conversation. */
  readonly timeId: string;
  readonly senderId: string;
  readonly text: string;
  readonly clientMessageId: string;
  readonly createdAt: Date;
  readonly editedAt: Date | null;
  readonly deleted: boolean;
}

/** One member's receipts in a conversation: time ids, or null before any. */
export interface ReceiptRow {
  readonly userId: string;
  readonly deliveredUpTo: string | null;
  readonly readUpTo: string | null;
}

const migrations: CqlMigration[] = [
  {
    name: '0001-messages',
    statements: [
      `CREATE TABLE IF NOT EXISTS messages (
        conversation_id uuid, bucket bigint, id timeuuid,
        sender_id uuid, body text, client_message_id text, edited_at timestamp, deleted boolean,
        PRIMARY KEY ((conversation_id, bucket), id)
      ) WITH CLUSTERING ORDER BY (id DESC)`,
      `CREATE TABLE IF NOT EXISTS message_buckets (
        conversation_id uuid, bucket bigint,
        PRIMARY KEY (conversation_id, bucket)
      ) WITH CLUSTERING ORDER BY (bucket DESC)`,
      // A retry comes within minutes; a month of claims is plenty and expires by itself.
      `CREATE TABLE IF NOT EXISTS client_messages (
        conversation_id uuid, sender_id uuid, client_message_id text, id timeuuid, body text,
        PRIMARY KEY ((conversation_id, sender_id, client_message_id))
      ) WITH default_time_to_live = 2592000`,
      `CREATE TABLE IF NOT EXISTS receipts (
        conversation_id uuid, user_id uuid, delivered_up_to timeuuid, read_up_to timeuuid,
        PRIMARY KEY (conversation_id, user_id)
      )`,
    ],
  },
];

/** Unix milliseconds of a time id. */
export function timeIdMillis(timeId: string): number {
  return Number(timeuuidTicks(timeId) / 10_000n - 12_219_292_800_000n);
}

/** Unix microseconds of a time id: the write timestamp of receipts up to it. */
function timeIdMicros(timeId: string): number {
  return Number(timeuuidTicks(timeId) / 10n - 12_219_292_800_000_000n);
}

/** The time id of a message sent at `micros` (Unix microseconds). */
export function timeIdAt(micros: number): string {
  const ms = Math.floor(micros / 1000);
  return TimeUuid.fromDate(new Date(ms), (micros % 1000) * 10).toString();
}

type Row = cassandra.types.Row;

function toMessage(row: Row): MessageRow {
  const conversationId = (row.get('conversation_id') as cassandra.types.Uuid).toString();
  const timeId = (row.get('id') as cassandra.types.TimeUuid).toString();
  const editedAt = row.get('edited_at') as Date | null;
  return {
    id: encodeMessageId({ conversationId, timeId }),
    conversationId,
    timeId,
    senderId: (row.get('sender_id') as cassandra.types.Uuid).toString(),
    text: (row.get('body') as string | null) ?? '',
    clientMessageId: row.get('client_message_id') as string,
    createdAt: new Date(timeIdMillis(timeId)),
    editedAt: editedAt ?? null,
    deleted: row.get('deleted') === true,
  };
}

/** What a send writes. */
export interface NewMessage {
  conversationId: string;
  timeId: string;
  senderId: string;
  text: string;
  clientMessageId: string;
}

/** Whether this send claimed its client message id first, or which time id the first claim took. */
export type ClientMessageClaim = { won: true } | { won: false; timeId: string };

/** A send recorded in `client_messages`. */
export interface RecordedSend {
  readonly timeId: string;
  readonly text: string;
}

/** Outcome of a send. */
export type SendResult =
  /** Written now. */
  | { kind: 'created'; message: MessageRow }
  /** The same sender sent this client id before: that message (written again if a crash lost it). */
  | { kind: 'existing'; message: MessageRow; recovered: boolean };

/** The Cassandra side of the chat store. */
export interface MessageStore {
  /**
   * Writes a message once per (conversation, sender, client id), given the
   * outcome of claiming the client id in Redis (`LiveStore.claimClientMessage`).
   * The domain sends through `Store.sendMessage` (send.ts), which does both.
   */
  send(
    message: NewMessage,
    claim: ClientMessageClaim,
    /**
     * What `recorded` answered for this client id, read before the claim
     * (send.ts reads it alongside the Redis steps); read here when absent.
     */
    recorded?: RecordedSend | null,
  ): Promise<SendResult>;
  /** The durable record of a sender's client message id: its time id and text, or null. */
  recorded(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<RecordedSend | null>;
  byRef(conversationId: string, timeId: string): Promise<MessageRow | null>;
  /**
   * A page of a conversation: newest first before `before` (a time id, or
   * from the newest), or oldest first after `after`.
   */
  page(
    conversationId: string,
    options: { before?: string | null; after?: string | null; limit: number },
  ): Promise<MessageRow[]>;
  /** Messages from others newer than `after` (all when null), newest first, at most `limit`. */
  unreadFor(
    conversationId: string,
    userId: string,
    after: string | null,
    limit: number,
  ): Promise<MessageRow[]>;
  /** Sets the text and edit time unless the message is deleted; null when it is. */
  edit(message: MessageRow, text: string, at: Date): Promise<MessageRow | null>;
  /** Marks deleted and removes the text. */
  remove(message: MessageRow): Promise<MessageRow>;
  receipts(conversationId: string): Promise<ReceiptRow[]>;
  /** Moves a member's receipts forward to `timeId` (read implies delivered). */
  advanceReceipts(
    conversationId: string,
    userId: string,
    timeId: string,
    kind: 'delivered' | 'read',
  ): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating and migrating when needed) the chat keyspace. */
export async function openMessageStore(options: {
  contactPoints: readonly string[];
  localDataCenter: string;
  keyspace: string;
  replication: string;
  /** Length of one partition's time span. */
  bucketMs: number;
  logger?: Logger | undefined;
}): Promise<MessageStore> {
  const keyspace: Keyspace = await openKeyspace({ ...options, migrations });
  const { client } = keyspace;
  const { bucketMs } = options;
  const bucketOf = (timeId: string) => Long.fromNumber(Math.floor(timeIdMillis(timeId) / bucketMs));
  const uuid = (id: string) => Uuid.fromString(id);
  const timeuuid = (id: string) => TimeUuid.fromString(id);
  const COLUMNS = 'conversation_id, id, sender_id, body, client_message_id, edited_at, deleted';

  // Buckets this process has written to message_buckets: a bucket row is
  // never deleted, so writing it again for every message of the bucket
  // (hours of messages) is a Cassandra write per send for nothing. Forgotten
  // wholesale when large; a forgotten bucket is only written once more.
  const knownBuckets = new Set<string>();
  const KNOWN_BUCKETS_MAX = 100_000;

  async function write(m: NewMessage): Promise<MessageRow> {
    const bucket = bucketOf(m.timeId);
    const bucketKey = `${m.conversationId}:${bucket.toString()}`;
    const writes = [
      client.execute(
        `INSERT INTO messages (conversation_id, bucket, id, sender_id, body, client_message_id, deleted)
         VALUES (?, ?, ?, ?, ?, ?, false)`,
        [
          uuid(m.conversationId),
          bucket,
          timeuuid(m.timeId),
          uuid(m.senderId),
          m.text,
          m.clientMessageId,
        ],
      ),
    ];
    if (!knownBuckets.has(bucketKey)) {
      writes.push(
        client
          .execute('INSERT INTO message_buckets (conversation_id, bucket) VALUES (?, ?)', [
            uuid(m.conversationId),
            bucket,
          ])
          .then((result) => {
            if (knownBuckets.size >= KNOWN_BUCKETS_MAX) knownBuckets.clear();
            knownBuckets.add(bucketKey);
            return result;
          }),
      );
    }
    await Promise.all(writes);
    return {
      id: encodeMessageId(m),
      conversationId: m.conversationId,
      timeId: m.timeId,
      senderId: m.senderId,
      text: m.text,
      clientMessageId: m.clientMessageId,
      createdAt: new Date(timeIdMillis(m.timeId)),
      editedAt: null,
      deleted: false,
    };
  }

  async function recorded(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<RecordedSend | null> {
    const { rows } = await client.execute(
      'SELECT id, body FROM client_messages WHERE conversation_id = ? AND sender_id = ? AND client_message_id = ?',
      [uuid(conversationId), uuid(senderId), clientMessageId],
    );
    return rows[0]
      ? {
          timeId: (rows[0].get('id') as cassandra.types.TimeUuid).toString(),
          text: rows[0].get('body') as string,
        }
      : null;
  }

  async function byRef(conversationId: string, timeId: string): Promise<MessageRow | null> {
    const { rows } = await client.execute(
      `SELECT ${COLUMNS} FROM messages WHERE conversation_id = ? AND bucket = ? AND id = ?`,
      [uuid(conversationId), bucketOf(timeId), timeuuid(timeId)],
    );
    return rows[0] ? toMessage(rows[0]) : null;
  }

  /** Buckets holding messages, from `from` on in `order`, a batch at a time. */
  async function* buckets(
    conversationId: string,
    from: cassandra.types.Long | null,
    order: 'ASC' | 'DESC',
  ) {
    let cursor = from;
    let inclusive = true;
    for (;;) {
      const bound =
        cursor === null
          ? ''
          : `AND bucket ${order === 'DESC' ? '<' : '>'}${inclusive ? '=' : ''} ?`;
      const { rows } = await client.execute(
        `SELECT bucket FROM message_buckets WHERE conversation_id = ? ${bound} ORDER BY bucket ${order} LIMIT 20`,
        cursor === null ? [uuid(conversationId)] : [uuid(conversationId), cursor],
      );
      for (const row of rows) yield row.get('bucket') as cassandra.types.Long;
      if (rows.length < 20) return;
      cursor = rows[rows.length - 1]!.get('bucket') as cassandra.types.Long;
      inclusive = false;
    }
  }

  async function page(
    conversationId: string,
    options: { before?: string | null; after?: string | null; limit: number },
  ): Promise<MessageRow[]> {
    const forward = Boolean(options.after);
    const bound = forward ? options.after! : (options.before ?? null);
    const out: MessageRow[] = [];
    for await (const bucket of buckets(
      conversationId,
      bound === null ? null : bucketOf(bound),
      forward ? 'ASC' : 'DESC',
    )) {
      const idBound = bound === null ? '' : `AND id ${forward ? '>' : '<'} ?`;
      const params: unknown[] = [uuid(conversationId), bucket];
      if (bound !== null) params.push(timeuuid(bound));
      params.push(options.limit - out.length);
      const { rows } = await client.execute(
        `SELECT ${COLUMNS} FROM messages WHERE conversation_id = ? AND bucket = ? ${idBound}
         ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT ?`,
        params,
      );
      out.push(...rows.map(toMessage));
      if (out.length >= options.limit) break;
    }
    return out;
  }

  return {
    recorded,
    async send(m, claim, prerecorded) {
      const key = [uuid(m.conversationId), uuid(m.senderId), m.clientMessageId];
      const recover = async (timeId: string, text: string): Promise<SendResult> => {
        const existing = await byRef(m.conversationId, timeId);
        if (existing) return { kind: 'existing', message: existing, recovered: false };
        // Recorded, then the process died before the message was written: write it now.
        return { kind: 'existing', message: await write({ ...m, timeId, text }), recovered: true };
      };

      if (claim.won) {
        // The claim in Redis may have been lost (eviction, failover): the record here is durable.
        const prior =
          prerecorded !== undefined
            ? prerecorded
            : await recorded(m.conversationId, m.senderId, m.clientMessageId);
        if (prior) return recover(prior.timeId, prior.text);
        const [message] = await Promise.all([
          write(m),
          client.execute(
            'INSERT INTO client_messages (conversation_id, sender_id, client_message_id, id, body) VALUES (?, ?, ?, ?, ?)',
            [...key, timeuuid(m.timeId), m.text],
          ),
        ]);
        return { kind: 'created', message };
      }
      // Another send of this client id claimed it first: its message, once written.
      for (let wait = 0; wait < 40; wait++) {
        const existing = await byRef(m.conversationId, claim.timeId);
        if (existing) return { kind: 'existing', message: existing, recovered: false };
        await new Promise((r) => setTimeout(r, 50));
      }
      // Claimed two seconds ago and still not written: that send died.
      const prior = await recorded(m.conversationId, m.senderId, m.clientMessageId);
      return recover(prior?.timeId ?? claim.timeId, prior?.text ?? m.text);
    },
    byRef,
    page,
    async unreadFor(conversationId, userId, after, limit) {
      const out: MessageRow[] = [];
      let before: string | null = null;
      // Pages newest first until `after` or `limit`; the reader's own messages do not count.
      for (;;) {
        const batch = await page(conversationId, { before, limit: 200 });
        for (const m of batch) {
          if (after && timeuuidTicks(m.timeId) <= timeuuidTicks(after)) return out;
          if (m.senderId !== userId) out.push(m);
          if (out.length >= limit) return out;
        }
        if (batch.length < 200) return out;
        before = batch[batch.length - 1]!.timeId;
      }
    },
    async edit(message, text, at) {
      const result = await client.execute(
        `UPDATE messages SET body = ?, edited_at = ?
         WHERE conversation_id = ? AND bucket = ? AND id = ? IF deleted = false`,
        [
          text,
          at,
          uuid(message.conversationId),
          bucketOf(message.timeId),
          timeuuid(message.timeId),
        ],
      );
      return result.wasApplied() ? { ...message, text, editedAt: at } : null;
    },
    async remove(message) {
      // An empty string, not a null: the text is gone without a tombstone.
      await client.execute(
        `UPDATE messages SET deleted = true, body = ''
         WHERE conversation_id = ? AND bucket = ? AND id = ?`,
        [uuid(message.conversationId), bucketOf(message.timeId), timeuuid(message.timeId)],
      );
      return { ...message, text: '', deleted: true };
    },
    async receipts(conversationId) {
      const { rows } = await client.execute(
        'SELECT user_id, delivered_up_to, read_up_to FROM receipts WHERE conversation_id = ?',
        [uuid(conversationId)],
      );
      return rows.map((row) => ({
        userId: (row.get('user_id') as cassandra.types.Uuid).toString(),
        deliveredUpTo:
          (row.get('delivered_up_to') as cassandra.types.TimeUuid | null)?.toString() ?? null,
        readUpTo: (row.get('read_up_to') as cassandra.types.TimeUuid | null)?.toString() ?? null,
      }));
    },
    async advanceReceipts(conversationId, userId, timeId, kind) {
      const set = kind === 'read' ? 'delivered_up_to = ?, read_up_to = ?' : 'delivered_up_to = ?';
      const values = kind === 'read' ? [timeuuid(timeId), timeuuid(timeId)] : [timeuuid(timeId)];
      await client.execute(
        `UPDATE receipts USING TIMESTAMP ? SET ${set} WHERE conversation_id = ? AND user_id = ?`,
        [Long.fromNumber(timeIdMicros(timeId)), ...values, uuid(conversationId), uuid(userId)],
      );
    },
    ping: () => keyspace.ping(),
    close: () => keyspace.close(),
  };
}
