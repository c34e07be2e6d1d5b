/**
 * The DataLoaders of one request: each conversation, member list, message,
 * receipt list or unread count is read once per request, and reads of one
 * tick are batched. Made per request (never shared), since they cache what
 * the caller may see.
 */
import DataLoader from 'dataloader';
import { decodeMessageId } from '../ids.js';
import type {
  ConversationRepository,
  ConversationRow,
  MemberRow,
  MessageRow,
  ReceiptRow,
  Store,
} from '../store/index.js';

/** Per-request batching and caching: each conversation, member list or message is read once per request. */
export interface ChatLoaders {
  /**
   * A conversation and its members, read together (one query where a send
   * needs both); `conversation` and `members` answer from it. After a change
   * of members, clear it as well as `members` and `membership`.
   */
  readonly conversationWithMembers: DataLoader<
    string,
    { conversation: ConversationRow | null; members: MemberRow[] }
  >;
  readonly conversation: DataLoader<string, ConversationRow | null>;
  readonly members: DataLoader<string, MemberRow[]>;
  /** The caller's membership, by conversation id. */
  readonly membership: DataLoader<string, MemberRow | null>;
  /** Messages by public id. */
  readonly message: DataLoader<string, MessageRow | null>;
  readonly receipts: DataLoader<string, ReceiptRow[]>;
  /** The caller's unread count by conversation; null when the set must be rebuilt. */
  readonly unread: DataLoader<string, number | null>;
}

/** The loaders of one request of `userId` (null when anonymous), over its own repository. */
export function createLoaders(
  repo: ConversationRepository,
  store: Pick<Store, 'messages' | 'live'>,
  userId: string | null,
): ChatLoaders {
  const { messages, live } = store;
  // Both of one id in the same tick (requireConversation asks for both at once) share one query.
  const fromBoth = async <T>(
    ids: readonly string[],
    pick: (both: { conversation: ConversationRow | null; members: MemberRow[] }) => T,
  ): Promise<(T | Error)[]> =>
    (await loaders.conversationWithMembers.loadMany(ids)).map((both) =>
      both instanceof Error ? both : pick(both),
    );
  const loaders: ChatLoaders = {
    conversationWithMembers: new DataLoader(async (ids) => {
      const found = new Map((await repo.withMembers(ids)).map((b) => [b.conversation.id, b]));
      return ids.map((id) => found.get(id) ?? { conversation: null, members: [] });
    }),
    conversation: new DataLoader((ids) => fromBoth(ids, (both) => both.conversation)),
    members: new DataLoader((ids) => fromBoth(ids, (both) => both.members)),
    // From the member list: one query answers both "is the caller in it" and "who else is".
    membership: new DataLoader(async (ids) => {
      const lists = await loaders.members.loadMany(ids);
      return lists.map((list) => {
        if (list instanceof Error) throw list;
        return list.find((m) => m.userId === userId) ?? null;
      });
    }),
    message: new DataLoader(async (ids) =>
      Promise.all(
        ids.map(async (id) => {
          const ref = decodeMessageId(id);
          return ref ? messages.byRef(ref.conversationId, ref.timeId) : null;
        }),
      ),
    ),
    receipts: new DataLoader(async (ids) => Promise.all(ids.map((id) => messages.receipts(id)))),
    unread: new DataLoader(async (ids) =>
      userId ? live.unreadCounts(userId, ids) : ids.map(() => 0),
    ),
  };
  return loaders;
}
