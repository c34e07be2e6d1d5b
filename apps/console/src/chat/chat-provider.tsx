import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import {
  ChatEventsDocument,
  ConversationDocument,
  ConversationsDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MarkDeliveredDocument,
  MarkReadDocument,
  MessagesDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartConversationDocument,
  UserByHandleDocument,
  type ChatEventsSubscription,
  type ConversationSummaryFragment,
  type MessageDetailsFragment,
  type MessagesQuery,
} from '@arcadia/sdk';
import { isNetworkFailure } from '../errors.js';
import { useClient, useCurrentUser } from '../session.js';
import {
  chatReducer,
  initialChatState,
  newestKnown,
  pendingId,
  type ChatMessage,
  type ChatState,
} from './chat-state.js';

/** How long a typing notice shows without a new one. */
const TYPING_SHOWN_MS = 5_000;
/** The API takes at most one typing notice per 3 s per conversation. */
const TYPING_SEND_INTERVAL_MS = 3_000;
const PAGE_SIZE = 30;
const CATCH_UP_PAGE_SIZE = 100;
/** Wait before subscribing again once the SDK gave up reconnecting. */
const RESUBSCRIBE_AFTER_MS = 5_000;

/** The live connection as the console shows it. */
export type LiveState = 'connecting' | 'connected' | 'reconnecting';

interface ChatContextValue {
  state: ChatState;
  /** Loading the conversation list failed (shown with a way to try again). */
  listError: unknown;
  /** Loads the conversation list again. */
  reloadConversations: () => Promise<void>;
  live: LiveState;
  /** The subscription ended with an error (e.g. the API refused it). */
  liveError: unknown;
  /** The conversation on screen, if any (read receipts, unread counts). */
  setVisibleConversation: (id: string | null) => void;
  loadThread: (conversationId: string) => Promise<void>;
  loadOlder: (conversationId: string) => Promise<void>;
  send: (conversationId: string, text: string) => void;
  retry: (message: ChatMessage) => void;
  edit: (messageId: string, text: string) => Promise<void>;
  remove: (messageId: string) => Promise<void>;
  typing: (conversationId: string) => void;
  markRead: (conversationId: string, upToId: string) => void;
  /** Finds a user by handle and opens (or reuses) a direct conversation with them. */
  startWith: (handle: string) => Promise<ConversationSummaryFragment | null>;
}

const ChatContext = createContext<ChatContextValue | null>(null);

/** A UUID for `clientMessageId`; `crypto.randomUUID` exists only on secure origins. */
function newClientMessageId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isVisible(): boolean {
  return document.visibilityState === 'visible';
}

/**
 * The chat of the signed-in user, shared by every screen: one `chatEvents`
 * subscription for all conversations, the conversation list, the loaded
 * histories, typing notices and the sends under way. After a dropped
 * connection it catches up: messages after the newest one held (per loaded
 * conversation), fresh unread counts, and the sends that failed for the
 * network are sent again with their first `clientMessageId`, so nothing is
 * lost or doubled.
 */
export function ChatProvider({ children }: { children: ReactNode }) {
  const client = useClient();
  const me = useCurrentUser();
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const [live, setLive] = useState<LiveState>('connecting');
  const [liveError, setLiveError] = useState<unknown>(null);
  const stateRef = useRef(state);
  stateRef.current = state;
  const visibleRef = useRef<string | null>(null);
  const lastTypingSent = useRef(new Map<string, number>());
  const readSent = useRef(new Map<string, string>());
  const deliveredQueue = useRef(new Set<string>());
  const deliveredTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const myId = me.id;

  const [listError, setListError] = useState<unknown>(null);
  const loadConversations = useCallback(async () => {
    try {
      const { conversations } = await client.request(ConversationsDocument, { first: 100 });
      dispatch({
        type: 'conversationsLoaded',
        conversations: conversations.edges.map((e) => e.node),
      });
      setListError(null);
    } catch (error) {
      setListError(error);
      throw error;
    }
  }, [client]);

  /** Conversations being fetched → whether something changed since the request left. */
  const fetching = useRef(new Map<string, boolean>());
  /**
   * A conversation's summary, one request at a time per conversation; asked
   * again when events for it arrived meanwhile, as the answer may predate them
   * (its unread count would miss them).
   */
  const fetchConversation = useCallback(
    async (id: string) => {
      if (fetching.current.has(id)) {
        fetching.current.set(id, true);
        return;
      }
      try {
        do {
          fetching.current.set(id, false);
          const { conversation } = await client.request(ConversationDocument, { id });
          if (conversation) dispatch({ type: 'conversationUpserted', conversation });
        } while (fetching.current.get(id));
      } finally {
        fetching.current.delete(id);
      }
    },
    [client],
  );

  const flushDelivered = useCallback(() => {
    deliveredTimer.current = null;
    const ids = [...deliveredQueue.current];
    deliveredQueue.current.clear();
    for (let i = 0; i < ids.length; i += 100) {
      client
        .request(MarkDeliveredDocument, { messageIds: ids.slice(i, i + 100) })
        .catch(() => undefined); // Receipts are best effort; the next message carries them forward.
    }
  }, [client]);

  /** Queues delivery receipts for others' messages not yet delivered to me. */
  const acknowledge = useCallback(
    (messages: readonly MessageDetailsFragment[]) => {
      for (const m of messages) {
        if (m.sender.id === myId || m.deleted) continue;
        if (m.deliveredTo.some((u) => u.id === myId)) continue;
        deliveredQueue.current.add(m.id);
      }
      if (deliveredQueue.current.size && !deliveredTimer.current) {
        deliveredTimer.current = setTimeout(flushDelivered, 150);
      }
    },
    [flushDelivered, myId],
  );

  const merge = useCallback(
    (messages: MessageDetailsFragment[]) => {
      if (!messages.length) return;
      const visible = visibleRef.current;
      dispatch({
        type: 'messagesMerged',
        messages,
        myId,
        seen: !!visible && isVisible() && messages.every((m) => m.conversation.id === visible),
      });
      acknowledge(messages);
    },
    [acknowledge, myId],
  );

  const sendNow = useCallback(
    async (message: ChatMessage) => {
      try {
        const { sendMessage } = await client.request(SendMessageDocument, {
          conversationId: message.conversation.id,
          text: message.text,
          clientMessageId: message.clientMessageId,
        });
        merge([sendMessage]);
      } catch (error) {
        dispatch({
          type: 'pendingFailed',
          conversationId: message.conversation.id,
          clientMessageId: message.clientMessageId,
          error,
          networkFailure: isNetworkFailure(error),
        });
      }
    },
    [client, merge],
  );

  /**
   * The newest message of each loaded conversation when the connection
   * dropped: catching up starts there, not at the newest message held by
   * then, which may be one of the user's own sent over HTTP meanwhile (with
   * others' messages before it that the socket never brought).
   */
  const watermarks = useRef<Map<string, string> | null>(null);
  const markDisconnected = useCallback(() => {
    if (watermarks.current) return;
    watermarks.current = new Map();
    for (const [id, thread] of Object.entries(stateRef.current.threads)) {
      const newest = newestKnown(thread);
      if (newest) watermarks.current.set(id, newest.id);
    }
  }, []);

  /** Everything after `after` (default: the newest message held), page by page, oldest first. */
  const catchUp = useCallback(
    async (conversationId: string, from?: string) => {
      let after: string | undefined =
        from ?? newestKnown(stateRef.current.threads[conversationId])?.id;
      if (!after) return;
      for (let pages = 0; pages < 20; pages++) {
        const { conversation }: MessagesQuery = await client.request(MessagesDocument, {
          conversationId,
          after,
          first: CATCH_UP_PAGE_SIZE,
        });
        const messages: MessageDetailsFragment[] =
          conversation?.messages.edges.map((e) => e.node) ?? [];
        merge(messages);
        if (!conversation?.messages.pageInfo.hasNextPage || !messages.length) return;
        after = messages[messages.length - 1]!.id;
      }
    },
    [client, merge],
  );

  const resync = useCallback(async () => {
    const marks = watermarks.current ?? new Map<string, string>();
    watermarks.current = null;
    const threads = Object.keys(stateRef.current.threads);
    await Promise.allSettled([
      loadConversations(),
      ...threads.map((id) => catchUp(id, marks.get(id))),
    ]);
    // Sends that failed only because the network was gone go again, same clientMessageId.
    for (const thread of Object.values(stateRef.current.threads)) {
      for (const m of thread.messages) {
        if (m.delivery === 'failed' && m.networkFailure) {
          dispatch({
            type: 'pendingRetried',
            conversationId: m.conversation.id,
            clientMessageId: m.clientMessageId,
          });
          void sendNow(m);
        }
      }
    }
  }, [catchUp, loadConversations, sendNow]);

  const handleEvent = useCallback(
    (event: ChatEventsSubscription['chatEvents']) => {
      switch (event.__typename) {
        case 'MessageAdded': {
          const conversationId = event.message.conversation.id;
          if (!stateRef.current.conversations[conversationId]) {
            void fetchConversation(conversationId).catch(() => undefined);
          }
          merge([event.message]);
          break;
        }
        case 'MessageUpdated':
          dispatch({ type: 'messagesMerged', messages: [event.message], myId, seen: true });
          break;
        case 'MessageDelivered':
          dispatch({
            type: 'delivered',
            conversationId: event.message.conversation.id,
            messageId: event.message.id,
            userId: event.user.id,
          });
          break;
        case 'MessageRead':
          dispatch({
            type: 'read',
            conversationId: event.conversation.id,
            userId: event.user.id,
            upToId: event.upTo.id,
            myId,
          });
          break;
        case 'TypingStarted':
          if (event.user.id !== myId) {
            dispatch({
              type: 'typing',
              conversationId: event.conversation.id,
              userId: event.user.id,
              name: event.user.displayName,
              until: Date.now() + TYPING_SHOWN_MS,
            });
          }
          break;
        case 'MemberLeft':
          void fetchConversation(event.conversation.id).catch(() => undefined);
          break;
      }
    },
    [fetchConversation, merge, myId],
  );

  // Subscribe first, then read the current state (the API does not replay
  // events). The SDK resubscribes after a dropped socket for about a minute;
  // past that, or after the router completes the subscription, this loop
  // subscribes again (at once when the browser says it is back online).
  useEffect(() => {
    let stopped = false;
    let everConnected = false;
    let current: AsyncIterableIterator<unknown> | null = null;
    let wakeUp: (() => void) | null = null;
    const offConnection = client.on('connection', ({ state: connection }) => {
      if (stopped) return;
      if (connection === 'connected') {
        setLive('connected');
        setLiveError(null);
        if (everConnected) void resync();
        everConnected = true;
      } else if (everConnected) {
        markDisconnected();
        setLive('reconnecting');
      }
    });
    const online = () => wakeUp?.();
    window.addEventListener('online', online);

    void (async () => {
      for (let round = 0; !stopped; round++) {
        const events = client.subscribe(ChatEventsDocument);
        current = events;
        // A new subscription on a socket that stayed up brings no 'connected': catch up here.
        if (round > 0) void resync();
        try {
          for await (const data of events) {
            if (stopped) break;
            handleEvent(data.chatEvents);
          }
        } catch (error) {
          if (stopped) return;
          if (!isNetworkFailure(error)) {
            // Refused (e.g. the session ended: the SDK signs out, which unmounts this).
            setLiveError(error);
            return;
          }
        }
        if (stopped) return;
        markDisconnected();
        setLive('reconnecting');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RESUBSCRIBE_AFTER_MS);
          wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wakeUp = null;
      }
    })();
    void loadConversations().catch(() => undefined);
    return () => {
      stopped = true;
      offConnection();
      window.removeEventListener('online', online);
      wakeUp?.();
      void current?.return?.();
    };
  }, [client, handleEvent, loadConversations, markDisconnected, resync]);

  // Typing notices end on their own.
  const anyoneTyping = Object.keys(state.typing).length > 0;
  useEffect(() => {
    if (!anyoneTyping) return;
    const timer = setInterval(() => dispatch({ type: 'typingExpired', now: Date.now() }), 500);
    return () => clearInterval(timer);
  }, [anyoneTyping]);

  useEffect(
    () => () => {
      if (deliveredTimer.current) clearTimeout(deliveredTimer.current);
    },
    [],
  );

  const loadThread = useCallback(
    async (conversationId: string) => {
      const { conversation } = await client.request(MessagesDocument, {
        conversationId,
        first: PAGE_SIZE,
      });
      if (!conversation) return;
      const newestFirst = conversation.messages.edges.map((e) => e.node);
      dispatch({
        type: 'threadLoaded',
        conversationId,
        newestFirst,
        hasOlder: conversation.messages.pageInfo.hasNextPage,
        olderCursor: conversation.messages.pageInfo.endCursor,
      });
      acknowledge(newestFirst);
    },
    [acknowledge, client],
  );

  const loadOlder = useCallback(
    async (conversationId: string) => {
      const thread = stateRef.current.threads[conversationId];
      if (!thread?.hasOlder || !thread.olderCursor) return;
      const { conversation } = await client.request(MessagesDocument, {
        conversationId,
        before: thread.olderCursor,
        first: PAGE_SIZE,
      });
      if (!conversation) return;
      dispatch({
        type: 'olderLoaded',
        conversationId,
        newestFirst: conversation.messages.edges.map((e) => e.node),
        hasOlder: conversation.messages.pageInfo.hasNextPage,
        olderCursor: conversation.messages.pageInfo.endCursor,
      });
    },
    [client],
  );

  const send = useCallback(
    (conversationId: string, text: string) => {
      const clientMessageId = newClientMessageId();
      const message: ChatMessage = {
        id: pendingId(clientMessageId),
        clientMessageId,
        text,
        createdAt: new Date().toISOString(),
        editedAt: null,
        deleted: false,
        sender: { id: myId, displayName: me.displayName },
        conversation: { id: conversationId },
        deliveredTo: [],
        readBy: [],
        delivery: 'sending',
      };
      dispatch({ type: 'pendingAdded', message });
      lastTypingSent.current.delete(conversationId);
      void sendNow(message);
    },
    [me.displayName, myId, sendNow],
  );

  const retry = useCallback(
    (message: ChatMessage) => {
      dispatch({
        type: 'pendingRetried',
        conversationId: message.conversation.id,
        clientMessageId: message.clientMessageId,
      });
      void sendNow(message);
    },
    [sendNow],
  );

  const edit = useCallback(
    async (id: string, text: string) => {
      const { editMessage } = await client.request(EditMessageDocument, { id, text });
      dispatch({ type: 'messagesMerged', messages: [editMessage], myId, seen: true });
    },
    [client, myId],
  );

  const remove = useCallback(
    async (id: string) => {
      const { deleteMessage } = await client.request(DeleteMessageDocument, { id });
      dispatch({ type: 'messagesMerged', messages: [deleteMessage], myId, seen: true });
    },
    [client, myId],
  );

  const typing = useCallback(
    (conversationId: string) => {
      const now = Date.now();
      if (now - (lastTypingSent.current.get(conversationId) ?? 0) < TYPING_SEND_INTERVAL_MS) return;
      lastTypingSent.current.set(conversationId, now);
      client.request(SetTypingDocument, { conversationId }).catch(() => undefined);
    },
    [client],
  );

  const markRead = useCallback(
    (conversationId: string, upToId: string) => {
      if (readSent.current.get(conversationId) === upToId) return;
      readSent.current.set(conversationId, upToId);
      dispatch({ type: 'read', conversationId, userId: myId, upToId, myId });
      client.request(MarkReadDocument, { conversationId, upTo: upToId }).then(
        ({ markRead }) => {
          const conversation = stateRef.current.conversations[conversationId];
          if (conversation && conversation.unreadCount !== markRead.unreadCount) {
            dispatch({
              type: 'conversationUpserted',
              conversation: { ...conversation, unreadCount: markRead.unreadCount },
            });
          }
        },
        () => readSent.current.delete(conversationId), // tried again on the next change
      );
    },
    [client, myId],
  );

  const startWith = useCallback(
    async (handle: string) => {
      const { userByHandle } = await client.request(UserByHandleDocument, { handle });
      if (!userByHandle) return null;
      const { startConversation } = await client.request(StartConversationDocument, {
        memberIds: [userByHandle.id],
      });
      dispatch({ type: 'conversationUpserted', conversation: startConversation });
      return startConversation;
    },
    [client],
  );

  const setVisibleConversation = useCallback((id: string | null) => {
    visibleRef.current = id;
  }, []);

  const value = useMemo<ChatContextValue>(
    () => ({
      state,
      listError,
      reloadConversations: loadConversations,
      live,
      liveError,
      setVisibleConversation,
      loadThread,
      loadOlder,
      send,
      retry,
      edit,
      remove,
      typing,
      markRead,
      startWith,
    }),
    [
      state,
      listError,
      loadConversations,
      live,
      liveError,
      setVisibleConversation,
      loadThread,
      loadOlder,
      send,
      retry,
      edit,
      remove,
      typing,
      markRead,
      startWith,
    ],
  );
  return <ChatContext.Provider value={value}>{children}</ChatContext.Provider>;
}

/** The chat state and actions; inside `<ChatProvider>`. */
export function useChat(): ChatContextValue {
  const value = useContext(ChatContext);
  if (!value) throw new Error('useChat needs a <ChatProvider> above it');
  return value;
}
