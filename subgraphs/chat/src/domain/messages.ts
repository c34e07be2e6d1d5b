/** Messages: history, sending, editing and deleting. */
import { ErrorCode, rateLimited, userError } from '@arcadia/errors';
import { messageJson } from '../events.js';
import { decodeMessageId, sortKey } from '../ids.js';
import type { ConversationRow, MemberRow, MessageRow } from '../store/index.js';
import { checkClientMessageId, pageOf, pageSize, validText } from './input.js';
import type { ChatScope } from './scope.js';

/** A page of messages. */
export interface MessagePage {
  readonly edges: readonly { cursor: string; node: MessageRow }[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Tells offline members of a new message; see the push area. */
export type NotifyOffline = (
  conversation: ConversationRow,
  message: MessageRow,
  members: readonly MemberRow[],
) => Promise<void>;

/** The message area of one request. */
export function createMessages(scope: ChatScope, notifyOffline: NotifyOffline) {
  const { config, store, repo, loaders, metrics, logger, access, tell, canMessage } = scope;

  /** Only the sender may change a message. */
  function requireSender(message: MessageRow, userId: string, what: 'edit' | 'delete') {
    if (message.senderId !== userId) {
      throw userError(ErrorCode.FORBIDDEN, `Only the sender can ${what} a message.`, {
        field: 'id',
      });
    }
  }

  return {
    /** One message the caller may see; NOT_FOUND or FORBIDDEN otherwise (see access). */
    message: (id: string) => access.requireMessage(id, 'id'),

    /** A page of a conversation's messages. */
    async messages(
      conversation: ConversationRow,
      args: { before?: string | null; after?: string | null; first?: number | null },
    ): Promise<MessagePage> {
      await access.requireMember(conversation.id, 'id');
      const first = pageSize(args.first, 50);
      if (args.before && args.after) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Pass `before` or `after`, not both.', {
          field: 'after',
        });
      }
      const bound = (value: string | null | undefined, field: string) => {
        if (!value) return null;
        const ref = decodeMessageId(value);
        if (!ref || ref.conversationId !== conversation.id) {
          throw userError(ErrorCode.BAD_USER_INPUT, 'Not a message of this conversation.', {
            field,
          });
        }
        return ref.timeId;
      };
      const rows = await store.messages.page(conversation.id, {
        before: bound(args.before, 'before'),
        after: bound(args.after, 'after'),
        limit: first + 1,
      });
      const page = pageOf(rows, first, (row) => row.id);
      for (const { node } of page.edges) loaders.message.prime(node.id, node);
      return page;
    },

    /**
     * Sends a message; a retry with the same `clientMessageId` returns the
     * first send's message and changes and tells nothing.
     */
    async sendMessage(
      conversationId: string,
      textArg: string,
      clientMessageId: string,
    ): Promise<MessageRow> {
      const senderId = access.requireUser();
      const text = validText(textArg, 'text');
      checkClientMessageId(clientMessageId);
      // The send limit is counted alongside the membership read (one round
      // trip less per send); a refused send counts against the caller's own
      // limit either way, and FORBIDDEN still wins over RATE_LIMITED.
      const limit = store.live.consumeSend(senderId);
      limit.catch(() => undefined); // awaited below, unless the checks throw first
      const conversation = await access.requireConversation(conversationId);
      const members = await loaders.members.load(conversationId);
      const others = members.map((m) => m.userId).filter((id) => id !== senderId);
      if (!(await canMessage(senderId, others))) {
        throw userError(ErrorCode.FORBIDDEN, 'You cannot message this conversation.', {
          field: 'conversationId',
        });
      }
      const wait = await limit;
      if (wait !== null) throw rateLimited(wait, 'Too many messages; wait a moment.');

      const { message, isNew } = await store.sendMessage({
        conversationId,
        senderId,
        text,
        clientMessageId,
      });
      if (!isNew) return message;
      metrics.messagesSent.inc();
      // The message is stored: from here on nothing may fail the send.
      const followUps = await Promise.allSettled([
        repo.touch(conversationId, message.createdAt, message.id),
        store.live.addUnread(conversationId, others, sortKey(message.timeId)),
      ]);
      for (const f of followUps) {
        if (f.status === 'rejected') logger.warn({ err: f.reason }, 'after-send update failed');
      }
      // Both after the unread counts moved (an event or a push carries them), not after each other.
      await Promise.all([
        tell([senderId, ...others], { type: 'MessageAdded', message: messageJson(message) }),
        notifyOffline(conversation, message, members).catch((error: unknown) => {
          logger.warn({ err: error }, 'push notifications could not be queued');
        }),
      ]);
      return message;
    },

    /** Changes the text of one of the caller's messages, within the edit window. */
    async editMessage(id: string, textArg: string): Promise<MessageRow> {
      const userId = access.requireUser();
      const text = validText(textArg, 'text');
      const message = await access.requireMessage(id);
      requireSender(message, userId, 'edit');
      if (message.deleted) {
        throw userError(ErrorCode.CONFLICT, 'A deleted message cannot be edited.', { field: 'id' });
      }
      if (Date.now() - message.createdAt.getTime() > config.CHAT_EDIT_WINDOW_SECONDS * 1000) {
        throw userError(
          ErrorCode.FORBIDDEN,
          `A message can be edited for ${Math.round(config.CHAT_EDIT_WINDOW_SECONDS / 60)} minutes after sending.`,
          { field: 'id' },
        );
      }
      const edited = await store.messages.edit(message, text, new Date());
      if (!edited) {
        throw userError(ErrorCode.CONFLICT, 'A deleted message cannot be edited.', { field: 'id' });
      }
      await tell(await access.memberIds(message.conversationId), {
        type: 'MessageUpdated',
        message: messageJson(edited),
      });
      return edited;
    },

    /** Deletes one of the caller's messages (its text goes, a marker stays); again is harmless. */
    async deleteMessage(id: string): Promise<MessageRow> {
      const userId = access.requireUser();
      const message = await access.requireMessage(id);
      requireSender(message, userId, 'delete');
      if (message.deleted) return message;
      const removed = await store.messages.remove(message);
      await tell(await access.memberIds(message.conversationId), {
        type: 'MessageUpdated',
        message: messageJson(removed),
      });
      return removed;
    },
  };
}
