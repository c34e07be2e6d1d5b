import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
} from 'react';
import { Link } from 'react-router';
import { ApiError } from '../components/api-error.js';
import { useCurrentUser } from '../session.js';
import { useChat } from './chat-provider.js';
import { conversationName, newestKnown } from './chat-state.js';
import { MessageItem } from './message-item.js';

const MAX_LENGTH = 4000;

/** "Nova is typing…", "Nova and Kai are typing…", announced politely. */
function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

function useDocumentVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', update);
    return () => document.removeEventListener('visibilitychange', update);
  }, []);
  return visible;
}

/**
 * One conversation: its history (older pages load when scrolled to the top),
 * live messages, typing notices, and the composer. While it is on screen
 * and the tab is visible, what arrives is marked read.
 */
export function ConversationView({ conversationId }: { conversationId: string }) {
  const chat = useChat();
  const me = useCurrentUser();
  const { state, loadThread, loadOlder, markRead, setVisibleConversation } = chat;
  const conversation = state.conversations[conversationId];
  const thread = state.threads[conversationId];
  const messages = thread?.messages;
  const [loadError, setLoadError] = useState<unknown>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [draft, setDraft] = useState('');
  const visible = useDocumentVisible();
  const scroller = useRef<HTMLDivElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  /** Scroll height and position before older messages were put above. */
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const stickToBottom = useRef(true);

  // Opening a conversation is for writing in it.
  useEffect(() => composer.current?.focus({ preventScroll: true }), []);

  useEffect(() => {
    setVisibleConversation(conversationId);
    let active = true;
    loadThread(conversationId).then(
      () => active && setLoadError(null),
      (error: unknown) => active && setLoadError(error),
    );
    return () => {
      active = false;
      setVisibleConversation(null);
    };
  }, [conversationId, loadThread, setVisibleConversation]);

  // Read up to the newest message while the conversation is on screen.
  const newest = newestKnown(thread);
  const newestUnreadFromOthers =
    !!newest &&
    thread!.messages.some(
      (m) => !m.delivery && m.sender.id !== me.id && !m.readBy.some((u) => u.id === me.id),
    );
  const unread = (conversation?.unreadCount ?? 0) > 0;
  useEffect(() => {
    if (!visible || !newest) return;
    if (newestUnreadFromOthers || unread) markRead(conversationId, newest.id);
  }, [conversationId, markRead, newest, newestUnreadFromOthers, unread, visible]);

  // Stay at the bottom as messages arrive (unless the person scrolled up);
  // keep the view still when older messages are put above.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current) {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [messages]);

  const older = useCallback(async () => {
    const el = scroller.current;
    if (!el || loadingOlder || !thread?.hasOlder) return;
    anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    setLoadingOlder(true);
    try {
      await loadOlder(conversationId);
    } catch (error) {
      anchor.current = null;
      setLoadError(error);
    } finally {
      setLoadingOlder(false);
    }
  }, [conversationId, loadOlder, loadingOlder, thread?.hasOlder]);

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 80) void older();
  }

  function submit(event?: FormEvent) {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || text.length > MAX_LENGTH) return;
    chat.send(conversationId, text);
    setDraft('');
    stickToBottom.current = true;
    composer.current?.focus();
  }

  function composerKeys(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  }

  const name = conversationName(conversation, me.id);
  const others = conversation?.members.filter((m) => m.id !== me.id) ?? [];
  const otherIds = others.map((m) => m.id);
  const typers = Object.values(state.typing[conversationId] ?? {}).map((t) => t.name);
  const isGroup = conversation?.kind === 'GROUP';

  return (
    <div className="conversation">
      <header className="conversation-header">
        <Link to="/chat" className="back-link">
          <span aria-hidden="true">←</span> Conversations
        </Link>
        <div>
          <h1 className="conversation-title">{name}</h1>
          {conversation && (
            <p className="muted small">
              {isGroup
                ? `${conversation.members.length} members`
                : others.map((m) => `@${m.handle}`).join(', ')}
            </p>
          )}
        </div>
      </header>

      <div className="messages" ref={scroller} onScroll={onScroll}>
        {thread?.hasOlder && (
          <button
            type="button"
            className="button button-small button-quiet load-older"
            onClick={() => void older()}
            disabled={loadingOlder}
          >
            {loadingOlder ? 'Loading older messages…' : 'Load older messages'}
          </button>
        )}
        {!thread && !loadError && (
          <p className="muted center" role="status">
            Loading messages…
          </p>
        )}
        {thread && thread.messages.length === 0 && (
          <p className="muted center">No messages yet. Say hello!</p>
        )}
        <ApiError error={loadError} />
        <ol className="message-list" role="log" aria-label={`Messages with ${name}`}>
          {messages?.map((m) => (
            <MessageItem
              key={m.id}
              message={m}
              mine={m.sender.id === me.id}
              otherMemberIds={otherIds}
              showSender={isGroup}
              onEdit={(text) => chat.edit(m.id, text)}
              onDelete={() => chat.remove(m.id)}
              onRetry={() => chat.retry(m)}
            />
          ))}
        </ol>
      </div>

      <p className="typing" aria-live="polite">
        {typingText(typers)}
      </p>

      <form className="composer" onSubmit={submit}>
        <label htmlFor="composer" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer"
          ref={composer}
          value={draft}
          placeholder={`Message ${name}`}
          rows={Math.min(6, Math.max(1, draft.split('\n').length))}
          maxLength={MAX_LENGTH}
          onChange={(e) => {
            setDraft(e.target.value);
            if (e.target.value.trim()) chat.typing(conversationId);
          }}
          onKeyDown={composerKeys}
          aria-describedby="composer-help"
        />
        <p id="composer-help" className="visually-hidden">
          Enter sends, Shift+Enter adds a new line.
        </p>
        <button type="submit" className="button button-primary" disabled={!draft.trim()}>
          Send
        </button>
      </form>
    </div>
  );
}
