import DataLoader from 'dataloader';
import type { BaseContext } from '@arcadia/subgraph-kit';
import { createChat, type Chat, type ChatDeps } from './chat.js';
import { decodeMessageId } from './ids.js';
import type { ConversationRow, MemberRow, MessageRow, ReceiptRow } from './store/index.js';

/** Per-request batching and caching: each conversation, member list or message is read once per request. */
export interface ChatLoaders {
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

/** What every chat resolver gets; one per request, nothing shared between requests. */
export interface ChatContext extends BaseContext {
  readonly chat: Chat;
  readonly loaders: ChatLoaders;
}

const byKey = <T, K>(keys: readonly K[], rows: readonly T[], key: (row: T) => K) => {
  const map = new Map(rows.map((row) => [key(row), row]));
  return keys.map((k) => map.get(k) ?? null);
};

/** Builds the context of one request: its own repository (forked EntityManager) and DataLoaders. */
export function createContext(base: BaseContext, deps: ChatDeps): ChatContext {
  const repo = deps.store.conversations.session();
  const { messages, live } = deps.store;
  const userId = base.caller.userId;
  const loaders: ChatLoaders = {
    conversation: new DataLoader(async (ids) => byKey(ids, await repo.byIds(ids), (r) => r.id)),
    members: new DataLoader(async (ids) => {
      const rows = await repo.membersOf(ids);
      return ids.map((id) => rows.filter((r) => r.conversationId === id));
    }),
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
  return {
    ...base,
    loaders,
    chat: createChat({ ...deps, repo, loaders, caller: base.caller, logger: base.logger }),
  };
}
