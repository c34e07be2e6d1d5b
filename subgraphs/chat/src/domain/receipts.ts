/**
 * Receipts and unread counts: what reached whose device, who read up to
 * where, and how many messages each member has not read.
 */
import { ErrorCode, userError } from '@arcadia/errors';
import { messageJson } from '../events.js';
import { decodeMessageId, sortKey, timeuuidTicks } from '../ids.js';
import type { ConversationRow, MessageRow } from '../store/index.js';
import { NO_MESSAGE } from './access.js';
import type { ChatScope } from './scope.js';
import type { UserModel } from './user.js';

/** The receipts area of one request. */
export function createReceipts(scope: ChatScope) {
  const { store, loaders, access, tell } = scope;

  return {
    /** The caller's unread count of a conversation, rebuilding a lost set from Cassandra. */
    async unreadCount(conversationId: string): Promise<number> {
      const userId = access.requireUser();
      const cached = await loaders.unread.load(conversationId);
      if (cached !== null) return cached;
      const receipt = (await loaders.receipts.load(conversationId)).find(
        (r) => r.userId === userId,
      );
      const unread = await store.messages.unreadFor(
        conversationId,
        userId,
        receipt?.readUpTo ?? null,
        1000,
      );
      return store.live.rebuildUnread(
        conversationId,
        userId,
        unread.map((m) => sortKey(m.timeId)),
      );
    },

    /** Tells the senders these messages reached the caller's device. */
    async markDelivered(ids: readonly string[]): Promise<MessageRow[]> {
      const userId = access.requireUser();
      if (ids.length > 100) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'At most 100 messages at a time.', {
          field: 'messageIds',
        });
      }
      // Every id is checked before anything is written.
      const messages = await Promise.all(ids.map((id) => access.requireMessage(id, 'messageIds')));
      const newest = new Map<string, MessageRow>();
      for (const m of messages) {
        if (m.senderId === userId) continue;
        const best = newest.get(m.conversationId);
        if (!best || timeuuidTicks(m.timeId) > timeuuidTicks(best.timeId))
          newest.set(m.conversationId, m);
      }
      await Promise.all(
        [...newest.values()].map((m) =>
          store.messages.advanceReceipts(m.conversationId, userId, m.timeId, 'delivered'),
        ),
      );
      for (const m of newest.values()) loaders.receipts.clear(m.conversationId);
      await Promise.all(
        messages
          .filter((m) => m.senderId !== userId)
          .map((m) =>
            tell([m.senderId], { type: 'MessageDelivered', message: messageJson(m), userId }),
          ),
      );
      return messages;
    },

    /** Marks a conversation read up to a message (never backwards) and resets its unread count. */
    async markRead(conversationId: string, upTo: string): Promise<ConversationRow> {
      const userId = access.requireUser();
      const conversation = await access.requireConversation(conversationId);
      const ref = decodeMessageId(upTo);
      if (!ref || ref.conversationId !== conversationId) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Not a message of this conversation.', {
          field: 'upTo',
        });
      }
      const message = await loaders.message.load(upTo);
      if (!message) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field: 'upTo' });
      await store.messages.advanceReceipts(conversationId, userId, message.timeId, 'read');
      loaders.receipts.clear(conversationId);
      const left = await store.live.readUpTo(conversationId, userId, sortKey(message.timeId));
      loaders.unread.clear(conversationId);
      if (left !== null) loaders.unread.prime(conversationId, left);
      await tell(await access.memberIds(conversationId), {
        type: 'MessageRead',
        conversationId,
        userId,
        upTo: messageJson(message),
      });
      return conversation;
    },

    /** Users (other than the sender) whose receipt covers the message. */
    async receiptUsers(message: MessageRow, kind: 'delivered' | 'read'): Promise<UserModel[]> {
      const receipts = await loaders.receipts.load(message.conversationId);
      const at = timeuuidTicks(message.timeId);
      const covers = (timeId: string | null) => timeId !== null && timeuuidTicks(timeId) >= at;
      return receipts
        .filter(
          (r) =>
            r.userId !== message.senderId &&
            (covers(r.readUpTo) || (kind === 'delivered' && covers(r.deliveredUpTo))),
        )
        .map((r) => ({ id: r.userId }));
    },
  };
}
