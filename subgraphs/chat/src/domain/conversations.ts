/** Conversations: the caller's list, one of them, starting one, muting one. */
import { randomUUID } from 'node:crypto';
import { ErrorCode, userError } from '@arcadia/errors';
import { isUuid } from '@arcadia/subgraph-kit';
import { decodeConversationCursor, encodeConversationCursor } from '../ids.js';
import type { ConversationRow } from '../store/index.js';
import { pageOf, pageSize, validTitle } from './input.js';
import type { ChatScope } from './scope.js';

/** A page of conversations. */
export interface ConversationPage {
  readonly edges: readonly { cursor: string; node: ConversationRow }[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** The conversation area of one request. */
export function createConversations(scope: ChatScope) {
  const { config, store, repo, loaders, access, canMessage } = scope;

  return {
    /** One of the caller's conversations; FORBIDDEN for any other id. */
    conversation: (id: string) => access.requireConversation(id, 'id'),

    /** The caller's conversations, most recently active first. */
    async conversations(args: {
      first?: number | null;
      after?: string | null;
    }): Promise<ConversationPage> {
      const userId = access.requireUser();
      const first = pageSize(args.first, 20);
      const after = args.after ? decodeConversationCursor(args.after) : null;
      if (args.after && !after) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Not a cursor of this list.', { field: 'after' });
      }
      const rows = await repo.listFor(userId, { first: first + 1, after });
      const page = pageOf(rows, first, (row) =>
        encodeConversationCursor(row.lastActivityAt, row.id),
      );
      for (const { node } of page.edges) loaders.conversation.prime(node.id, node);
      return page;
    },

    /**
     * Starts a conversation of the caller with `memberIds`: DIRECT (and
     * reused) for one other member and no title, else a GROUP.
     */
    async startConversation(
      memberIds: readonly string[],
      titleArg: string | null | undefined,
    ): Promise<ConversationRow> {
      const userId = access.requireUser();
      const others = [...new Set(memberIds)].filter((id) => id !== userId);
      if (!others.length) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Name at least one other member.', {
          field: 'memberIds',
        });
      }
      if (others.length + 1 > config.CHAT_MAX_MEMBERS) {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          `A conversation has at most ${config.CHAT_MAX_MEMBERS} members.`,
          { field: 'memberIds' },
        );
      }
      if (!others.every(isUuid)) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Member ids must be user ids.', {
          field: 'memberIds',
        });
      }
      const title = validTitle(titleArg);
      if (!(await canMessage(userId, others))) {
        throw userError(ErrorCode.FORBIDDEN, 'You cannot start a conversation with these users.', {
          field: 'memberIds',
        });
      }
      const kind = others.length === 1 && title === null ? 'DIRECT' : 'GROUP';
      const everyone = [userId, ...others];
      const conversation = await repo.create({
        id: randomUUID(),
        kind,
        title,
        createdBy: userId,
        memberIds: everyone,
      });
      await store.live.initUnread(conversation.id, everyone);
      return conversation;
    },

    /** Turns the caller's push notifications of a conversation off or on. */
    async muteConversation(conversationId: string, muted: boolean): Promise<ConversationRow> {
      const userId = access.requireUser();
      const conversation = await access.requireConversation(conversationId);
      await repo.setMuted(conversationId, userId, muted);
      loaders.members.clear(conversationId);
      loaders.membership.clear(conversationId);
      return conversation;
    },
  };
}
