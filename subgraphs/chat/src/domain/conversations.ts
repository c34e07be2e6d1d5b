/** Conversations: the caller's list, one of them, starting, muting and leaving one. */
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
  const { config, store, repo, loaders, logger, access, canMessage, users, caller, tell } = scope;

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
     * reused) for one other member and no title, else a GROUP. Every member
     * must be an existing user (accounts is asked, once per call) and one
     * the caller may message (`canMessage`, see deps.ts); otherwise nothing
     * is written.
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
      // SERVICE_UNAVAILABLE when accounts cannot say: nobody is added on a guess.
      const existing = await users.existing(others, caller);
      const unknownIds = others.filter((id) => !existing.has(id));
      if (unknownIds.length) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Some member ids name no user.', {
          field: 'memberIds',
          unknownIds,
        });
      }
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

    /**
     * Takes the caller out of a GROUP conversation: their membership and
     * unread count go, and the members who stay are told (`MemberLeft`).
     * From then on the membership checks refuse them everything about it,
     * and no event of it is published to them (events go to the members of
     * the moment). A DIRECT conversation cannot be left: it is the pair's
     * one conversation, and a one-sided pair would be recreated by the next
     * start. False, changing nothing, when the caller is not a member, so
     * a retried leave succeeds and ids reveal nothing. The messaging policy
     * is not asked: a block never keeps anyone in a conversation.
     */
    async leaveConversation(conversationId: string): Promise<boolean> {
      const userId = access.requireUser();
      const member = isUuid(conversationId) ? await loaders.membership.load(conversationId) : null;
      if (!member) return false;
      const conversation = await loaders.conversation.load(conversationId);
      if (conversation?.kind !== 'GROUP') {
        throw userError(ErrorCode.BAD_USER_INPUT, 'A direct conversation cannot be left.', {
          field: 'conversationId',
        });
      }
      if (!(await repo.removeMember(conversationId, userId))) return false;
      loaders.conversationWithMembers.clear(conversationId);
      loaders.members.clear(conversationId);
      loaders.membership.clear(conversationId);
      // The leave is done; a set left behind is never read again (only members' are).
      await store.live.dropUnread(conversationId, userId).catch((error: unknown) => {
        logger.warn({ err: error }, 'unread set of a member who left could not be dropped');
      });
      await tell(await access.memberIds(conversationId), {
        type: 'MemberLeft',
        conversationId,
        userId,
      });
      return true;
    },

    /** Turns the caller's push notifications of a conversation off or on. */
    async muteConversation(conversationId: string, muted: boolean): Promise<ConversationRow> {
      const userId = access.requireUser();
      const conversation = await access.requireConversation(conversationId);
      await repo.setMuted(conversationId, userId, muted);
      loaders.conversationWithMembers.clear(conversationId);
      loaders.members.clear(conversationId);
      loaders.membership.clear(conversationId);
      return conversation;
    },
  };
}
