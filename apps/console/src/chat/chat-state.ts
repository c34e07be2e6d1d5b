import type { ConversationSummaryFragment, MessageDetailsFragment } from '@arcadia/sdk';

/**
 * A message as the console holds it: one the API returned, or one of the
 * user's own still on its way (`delivery` set, `id` = `pending:<clientMessageId>`)
 * until the API's copy with the same `clientMessageId` replaces it.
 */
export interface ChatMessage extends MessageDetailsFragment {
  delivery?: 'sending' | 'failed';
  /** A failed send: whether it failed for the network (retried on reconnection). */
  networkFailure?: boolean;
  /** A failed send: what went wrong. */
  error?: unknown;
}

/** The loaded part of one conversation's history, oldest first. */
export interface Thread {
  messages: ChatMessage[];
  /** Whether older messages exist before the first loaded one. */
  hasOlder: boolean;
  /** `before` for the next older page. */
  olderCursor: string | null;
}

/** Who is typing where: conversation id → user id → name and expiry (ms). */
export type TypingState = Record<string, Record<string, { name: string; until: number }>>;

/** Everything the chat screens show; changed only through `chatReducer`. */
export interface ChatState {
  conversations: Record<string, ConversationSummaryFragment>;
  /** Whether the conversation list has been loaded once. */
  listLoaded: boolean;
  threads: Record<string, Thread>;
  typing: TypingState;
}

export const initialChatState: ChatState = {
  conversations: {},
  listLoaded: false,
  threads: {},
  typing: {},
};

/** What can happen to the chat state. */
export type ChatAction =
  | { type: 'conversationsLoaded'; conversations: ConversationSummaryFragment[] }
  | { type: 'conversationUpserted'; conversation: ConversationSummaryFragment }
  | {
      type: 'threadLoaded';
      conversationId: string;
      /** A page as the API answers it: newest first. */
      newestFirst: MessageDetailsFragment[];
      hasOlder: boolean;
      olderCursor: string | null;
    }
  | {
      type: 'olderLoaded';
      conversationId: string;
      newestFirst: MessageDetailsFragment[];
      hasOlder: boolean;
      olderCursor: string | null;
    }
  | {
      type: 'messagesMerged';
      messages: MessageDetailsFragment[];
      /** The signed-in user; new messages from others raise the unread count unless `seen`. */
      myId: string;
      /** Whether the person is looking at the conversation (no unread increase). */
      seen: boolean;
    }
  | { type: 'pendingAdded'; message: ChatMessage }
  | { type: 'pendingRetried'; conversationId: string; clientMessageId: string }
  | {
      type: 'pendingFailed';
      conversationId: string;
      clientMessageId: string;
      error: unknown;
      networkFailure: boolean;
    }
  | { type: 'delivered'; conversationId: string; messageId: string; userId: string }
  | { type: 'read'; conversationId: string; userId: string; upToId: string; myId: string }
  | { type: 'typing'; conversationId: string; userId: string; name: string; until: number }
  | { type: 'typingExpired'; now: number };

/** The id a pending message goes by until the API's copy arrives. */
export function pendingId(clientMessageId: string): string {
  return `pending:${clientMessageId}`;
}

function time(message: { createdAt: string }): number {
  return Date.parse(message.createdAt);
}

function byTime(a: ChatMessage, b: ChatMessage): number {
  // Pending messages have no server time yet; they stay at the end.
  if (!!a.delivery !== !!b.delivery) return a.delivery ? 1 : -1;
  return time(a) - time(b);
}

function unionById(a: readonly { id: string }[], b: readonly { id: string }[]): { id: string }[] {
  if (b.every((x) => a.some((y) => y.id === x.id))) return a as { id: string }[];
  return [...a, ...b.filter((x) => !a.some((y) => y.id === x.id))];
}

/**
 * Two copies of one message: the fields of the newer snapshot, receipts of
 * both (they only ever move forward), and a deletion is final.
 */
function mergeMessage(existing: ChatMessage, incoming: MessageDetailsFragment): ChatMessage {
  const deleted = existing.deleted || incoming.deleted;
  const incomingIsNewer =
    !existing.editedAt ||
    (incoming.editedAt !== null && Date.parse(incoming.editedAt) >= Date.parse(existing.editedAt));
  const base = incomingIsNewer ? incoming : existing;
  return {
    ...base,
    deleted,
    text: deleted ? '' : base.text,
    deliveredTo: unionById(existing.deliveredTo, incoming.deliveredTo),
    readBy: unionById(existing.readBy, incoming.readBy),
  };
}

/** Merges messages into a thread's list, replacing pending copies, de-duplicating by id. */
function mergeInto(
  list: readonly ChatMessage[],
  incoming: readonly MessageDetailsFragment[],
): { list: ChatMessage[]; added: MessageDetailsFragment[] } {
  const next = [...list];
  const added: MessageDetailsFragment[] = [];
  for (const message of incoming) {
    const index = next.findIndex((m) => m.id === message.id);
    if (index >= 0) {
      next[index] = mergeMessage(next[index]!, message);
      continue;
    }
    const pendingIndex = next.findIndex(
      (m) => m.delivery && m.clientMessageId === message.clientMessageId,
    );
    if (pendingIndex >= 0) next.splice(pendingIndex, 1);
    next.push({ ...message });
    added.push(message);
  }
  next.sort(byTime);
  return { list: next, added };
}

function emptyThread(): Thread {
  return { messages: [], hasOlder: false, olderCursor: null };
}

function latest<T extends { createdAt: string }>(a: T | null, b: T): T {
  return a && time(a) > time(b) ? a : b;
}

function withConversation(
  state: ChatState,
  id: string,
  update: (c: ConversationSummaryFragment) => ConversationSummaryFragment,
): Record<string, ConversationSummaryFragment> {
  const conversation = state.conversations[id];
  if (!conversation) return state.conversations;
  return { ...state.conversations, [id]: update(conversation) };
}

/** The chat state's transitions; pure, so they are tested without a browser. */
export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'conversationsLoaded': {
      const conversations: Record<string, ConversationSummaryFragment> = {};
      for (const c of action.conversations) conversations[c.id] = c;
      // A conversation started here after the list query left keeps its place.
      for (const [id, c] of Object.entries(state.conversations)) conversations[id] ??= c;
      return { ...state, conversations, listLoaded: true };
    }
    case 'conversationUpserted':
      return {
        ...state,
        conversations: { ...state.conversations, [action.conversation.id]: action.conversation },
      };
    case 'threadLoaded': {
      const existing = state.threads[action.conversationId];
      // Events that arrived while the page was on its way are kept.
      const { list } = mergeInto(existing?.messages ?? [], [...action.newestFirst].reverse());
      return {
        ...state,
        threads: {
          ...state.threads,
          [action.conversationId]: {
            messages: list,
            hasOlder: action.hasOlder,
            olderCursor: action.olderCursor,
          },
        },
      };
    }
    case 'olderLoaded': {
      const thread = state.threads[action.conversationId] ?? emptyThread();
      const { list } = mergeInto(thread.messages, action.newestFirst);
      return {
        ...state,
        threads: {
          ...state.threads,
          [action.conversationId]: {
            messages: list,
            hasOlder: action.hasOlder,
            olderCursor: action.olderCursor,
          },
        },
      };
    }
    case 'messagesMerged': {
      let threads = state.threads;
      let conversations = state.conversations;
      const byConversation = new Map<string, MessageDetailsFragment[]>();
      for (const m of action.messages) {
        const list = byConversation.get(m.conversation.id) ?? [];
        list.push(m);
        byConversation.set(m.conversation.id, list);
      }
      let typing = state.typing;
      for (const [conversationId, messages] of byConversation) {
        const thread = threads[conversationId];
        let added = messages;
        if (thread) {
          const merged = mergeInto(thread.messages, messages);
          added = merged.added;
          threads = { ...threads, [conversationId]: { ...thread, messages: merged.list } };
        }
        const conversation = conversations[conversationId];
        if (conversation) {
          const newest = messages.reduce<MessageDetailsFragment | null>(latest, null)!;
          const last =
            conversation.lastMessage?.id === newest.id || !conversation.lastMessage
              ? newest
              : latest(conversation.lastMessage, newest);
          const lastMessage =
            conversation.lastMessage?.id === last.id
              ? mergeMessage(conversation.lastMessage, last)
              : last;
          // Only what is newer than the summary's last message is news: the
          // summary's unread count already has the rest (a conversation
          // fetched while its first events were arriving, a catch-up).
          const previous = conversation.lastMessage;
          const fromOthers = added.filter(
            (m) =>
              m.sender.id !== action.myId &&
              (!previous || (m.id !== previous.id && time(m) >= time(previous))),
          ).length;
          conversations = {
            ...conversations,
            [conversationId]: {
              ...conversation,
              lastMessage,
              lastActivityAt:
                Date.parse(conversation.lastActivityAt) >= time(lastMessage)
                  ? conversation.lastActivityAt
                  : lastMessage.createdAt,
              unreadCount: action.seen ? 0 : conversation.unreadCount + fromOthers,
            },
          };
        }
        // A message ends its sender's typing notice.
        const typers = typing[conversationId];
        if (typers && messages.some((m) => typers[m.sender.id])) {
          const rest = { ...typers };
          for (const m of messages) delete rest[m.sender.id];
          typing = { ...typing, [conversationId]: rest };
        }
      }
      return { ...state, threads, conversations, typing };
    }
    case 'pendingAdded': {
      const id = action.message.conversation.id;
      const thread = state.threads[id] ?? emptyThread();
      return {
        ...state,
        threads: {
          ...state.threads,
          [id]: { ...thread, messages: [...thread.messages, action.message] },
        },
      };
    }
    case 'pendingRetried':
    case 'pendingFailed': {
      const thread = state.threads[action.conversationId];
      if (!thread) return state;
      const messages = thread.messages.map((m): ChatMessage => {
        if (!m.delivery || m.clientMessageId !== action.clientMessageId) return m;
        return action.type === 'pendingRetried'
          ? { ...m, delivery: 'sending', error: undefined, networkFailure: undefined }
          : {
              ...m,
              delivery: 'failed',
              error: action.error,
              networkFailure: action.networkFailure,
            };
      });
      return {
        ...state,
        threads: { ...state.threads, [action.conversationId]: { ...thread, messages } },
      };
    }
    case 'delivered': {
      const thread = state.threads[action.conversationId];
      const user = { id: action.userId };
      const threads = thread
        ? {
            ...state.threads,
            [action.conversationId]: {
              ...thread,
              messages: thread.messages.map((m) =>
                m.id === action.messageId
                  ? { ...m, deliveredTo: unionById(m.deliveredTo, [user]) }
                  : m,
              ),
            },
          }
        : state.threads;
      const conversations = withConversation(state, action.conversationId, (c) =>
        c.lastMessage?.id === action.messageId
          ? {
              ...c,
              lastMessage: {
                ...c.lastMessage,
                deliveredTo: unionById(c.lastMessage.deliveredTo, [user]),
              },
            }
          : c,
      );
      return { ...state, threads, conversations };
    }
    case 'read': {
      const thread = state.threads[action.conversationId];
      const user = { id: action.userId };
      const upTo =
        thread?.messages.find((m) => m.id === action.upToId) ??
        (state.conversations[action.conversationId]?.lastMessage?.id === action.upToId
          ? state.conversations[action.conversationId]!.lastMessage
          : null);
      // Everything sent up to that message (by someone other than the reader) is read.
      const covers = (m: MessageDetailsFragment) =>
        !!upTo && m.sender.id !== action.userId && time(m) <= time(upTo);
      const mark = <M extends MessageDetailsFragment>(m: M): M =>
        covers(m)
          ? {
              ...m,
              readBy: unionById(m.readBy, [user]),
              deliveredTo: unionById(m.deliveredTo, [user]),
            }
          : m;
      const threads =
        thread && upTo
          ? {
              ...state.threads,
              [action.conversationId]: {
                ...thread,
                messages: thread.messages.map((m) => (m.delivery ? m : mark(m))),
              },
            }
          : state.threads;
      const conversations = withConversation(state, action.conversationId, (c) => ({
        ...c,
        lastMessage: c.lastMessage ? mark(c.lastMessage) : null,
        // The reader is the signed-in user (here or in another tab): nothing is unread up to there.
        unreadCount:
          action.userId === action.myId &&
          upTo &&
          c.lastMessage &&
          time(c.lastMessage) <= time(upTo)
            ? 0
            : c.unreadCount,
      }));
      return { ...state, threads, conversations };
    }
    case 'typing':
      return {
        ...state,
        typing: {
          ...state.typing,
          [action.conversationId]: {
            ...state.typing[action.conversationId],
            [action.userId]: { name: action.name, until: action.until },
          },
        },
      };
    case 'typingExpired': {
      let changed = false;
      const typing: TypingState = {};
      for (const [conversationId, typers] of Object.entries(state.typing)) {
        const rest = Object.fromEntries(
          Object.entries(typers).filter(([, t]) => t.until > action.now),
        );
        if (Object.keys(rest).length !== Object.keys(typers).length) changed = true;
        if (Object.keys(rest).length) typing[conversationId] = rest;
      }
      return changed ? { ...state, typing } : state;
    }
  }
}

/** The conversations, most recently active first. */
export function sortedConversations(state: ChatState): ConversationSummaryFragment[] {
  return Object.values(state.conversations).sort(
    (a, b) => Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt),
  );
}

/** The newest message the API has (not a pending one) in a thread. */
export function newestKnown(thread: Thread | undefined): ChatMessage | null {
  if (!thread) return null;
  for (let i = thread.messages.length - 1; i >= 0; i--) {
    const m = thread.messages[i]!;
    if (!m.delivery) return m;
  }
  return null;
}

/** A conversation's name for a user: its title, or the other members' names. */
export function conversationName(
  conversation: ConversationSummaryFragment | undefined,
  myId: string,
): string {
  if (!conversation) return 'Conversation';
  if (conversation.title) return conversation.title;
  const others = conversation.members.filter((m) => m.id !== myId);
  if (others.length === 0) return 'Just you';
  return others.map((m) => m.displayName).join(', ');
}
