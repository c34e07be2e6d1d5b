/**
 * Conversations and members in PostgreSQL (MikroORM): who is in which
 * conversation, and the order of a user's conversation list.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { defineStore, type SessionStore } from '@arcadia/postgres';
import type { Logger } from '@arcadia/observability';
import { migrationsList } from '../migrations/index.js';

/** DIRECT or GROUP. */
export type ConversationKind = 'DIRECT' | 'GROUP';

/** A conversation as the rest of the domain sees it. */
export interface ConversationRow {
  readonly id: string;
  readonly kind: ConversationKind;
  readonly title: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly lastActivityAt: Date;
  /** Public id of the newest message. */
  readonly lastMessageId: string | null;
}

/** One member of a conversation. */
export interface MemberRow {
  readonly conversationId: string;
  readonly userId: string;
  readonly role: 'OWNER' | 'MEMBER';
  readonly joinedAt: Date;
  readonly muted: boolean;
}

// The tables come from the hand-written migrations. Every query is SQL of its
// own (they run on every send, where the ORM's query building and entity
// hydration cost more than the queries); MikroORM provides the pooled,
// per-request EntityManager, transactions and migrations.

interface RawConversation {
  id: string;
  kind: string;
  title: string | null;
  created_by: string;
  created_at: Date;
  last_activity_at: Date;
  last_message_id: string | null;
}

interface RawMember {
  conversation_id: string;
  user_id: string;
  role: string;
  joined_at: Date;
  muted: boolean;
}

const toConversation = (r: RawConversation): ConversationRow => ({
  id: r.id,
  kind: r.kind as ConversationKind,
  title: r.title,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
  lastActivityAt: new Date(r.last_activity_at),
  lastMessageId: r.last_message_id,
});

const toMember = (r: RawMember): MemberRow => ({
  conversationId: r.conversation_id,
  userId: r.user_id,
  role: r.role as MemberRow['role'],
  joinedAt: new Date(r.joined_at),
  muted: r.muted,
});

/** What a new conversation is made of. */
export interface NewConversation {
  id: string;
  kind: ConversationKind;
  title: string | null;
  createdBy: string;
  /** Everyone, the creator included. */
  memberIds: readonly string[];
}

/** Conversation queries of one request, over its own EntityManager fork. */
export interface ConversationRepository {
  /**
   * Creates the conversation; for a DIRECT one that already exists between
   * the two, returns that one instead (also when two starts race).
   */
  create(conversation: NewConversation): Promise<ConversationRow>;
  /**
   * Each conversation that exists with its members in joining order, in one
   * query: a send needs both, and one round trip less per send is worth it.
   */
  withMembers(
    conversationIds: readonly string[],
  ): Promise<{ conversation: ConversationRow; members: MemberRow[] }[]>;
  /** A page of a user's conversations, most recently active first. */
  listFor(
    userId: string,
    page: { first: number; after: { at: Date; id: string } | null },
  ): Promise<ConversationRow[]>;
  /** Moves a conversation's last activity forward to this message (never backwards). */
  touch(conversationId: string, at: Date, lastMessageId: string): Promise<void>;
  setMuted(conversationId: string, userId: string, muted: boolean): Promise<boolean>;
  /** Takes a member out of a conversation; false when they were not in it. */
  removeMember(conversationId: string, userId: string): Promise<boolean>;
}

function createRepository(em: EntityManager): ConversationRepository {
  const all = <T>(sql: string, params: unknown[]) => em.execute<T[]>(sql, params, 'all');
  return {
    async create(c) {
      const directKey = c.kind === 'DIRECT' ? [...c.memberIds].sort().join(':') : null;
      return em.transactional(async (tx) => {
        const inserted = await tx.execute<RawConversation[]>(
          `insert into conversations (id, kind, title, direct_key, created_by)
           values (?, ?, ?, ?, ?)
           on conflict (direct_key) do nothing
           returning *`,
          [c.id, c.kind, c.title, directKey, c.createdBy],
          'all',
        );
        if (!inserted[0]) {
          const [existing] = await tx.execute<RawConversation[]>(
            'select * from conversations where direct_key = ?',
            [directKey],
            'all',
          );
          return toConversation(existing!);
        }
        const values = c.memberIds.map(() => '(?, ?, ?)').join(', ');
        await tx.execute(
          `insert into members (conversation_id, user_id, role) values ${values}`,
          c.memberIds.flatMap((userId) => [
            c.id,
            userId,
            userId === c.createdBy ? 'OWNER' : 'MEMBER',
          ]),
        );
        return toConversation(inserted[0]);
      });
    },
    async withMembers(ids) {
      if (!ids.length) return [];
      const rows = await all<RawConversation & { members: RawMember[] }>(
        `select c.*, coalesce(
           (select json_agg(m order by m.joined_at, m.user_id) from members m
            where m.conversation_id = c.id), '[]'::json) as members
         from conversations c where c.id in (?)`,
        [[...new Set(ids)]],
      );
      // json_agg gives timestamps as ISO strings; toMember makes Dates of them either way.
      return rows.map((r) => ({
        conversation: toConversation(r),
        members: r.members.map(toMember),
      }));
    },
    async listFor(userId, { first, after }) {
      const rows = await all<RawConversation>(
        `select c.* from members m join conversations c on c.id = m.conversation_id
         where m.user_id = ?
           and (?::timestamptz is null or (c.last_activity_at, c.id) < (?::timestamptz, ?::uuid))
         order by c.last_activity_at desc, c.id desc
         limit ?`,
        [userId, after?.at ?? null, after?.at ?? null, after?.id ?? null, first],
      );
      return rows.map(toConversation);
    },
    async touch(conversationId, at, lastMessageId) {
      await em.execute(
        `update conversations set last_activity_at = ?, last_message_id = ?
         where id = ? and last_activity_at <= ?`,
        [at, lastMessageId, conversationId, at],
      );
    },
    async setMuted(conversationId, userId, muted) {
      const rows = await all<RawMember>(
        'update members set muted = ? where conversation_id = ? and user_id = ? returning *',
        [muted, conversationId, userId],
      );
      return rows.length > 0;
    },
    async removeMember(conversationId, userId) {
      const rows = await all<RawMember>(
        'delete from members where conversation_id = ? and user_id = ? returning *',
        [conversationId, userId],
      );
      return rows.length > 0;
    },
  };
}

/** The PostgreSQL side of the chat store. */
export type ConversationDatabase = SessionStore<ConversationRepository>;

/** Opens (creating and migrating when needed) the chat database. */
export function openConversationDatabase(options: {
  databaseUrl: string;
  logger?: Logger | undefined;
  poolSize?: number | undefined;
}): Promise<ConversationDatabase> {
  return defineStore({
    name: 'chat',
    migrations: migrationsList,
    repository: createRepository,
  })(options);
}
