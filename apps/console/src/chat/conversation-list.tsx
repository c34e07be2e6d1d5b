import { Link } from 'react-router';
import { ApiError } from '../components/api-error.js';
import { Avatar } from '../components/avatar.js';
import { useCurrentUser } from '../session.js';
import { useChat } from './chat-provider.js';
import { conversationName, sortedConversations } from './chat-state.js';

/** "14:05" today, "Mon" this week, else a short date. */
export function shortTime(iso: string): string {
  const date = new Date(iso);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) {
    return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  if (now.getTime() - date.getTime() < 6 * 24 * 3600 * 1000) {
    return date.toLocaleDateString(undefined, { weekday: 'short' });
  }
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** The user's conversations, most recently active first, with unread counts. */
export function ConversationList({ activeId }: { activeId: string | null }) {
  const { state, listError, reloadConversations } = useChat();
  const me = useCurrentUser();
  const conversations = sortedConversations(state);

  if (listError && !state.listLoaded) {
    return (
      <div className="conversation-list-note stack">
        <ApiError error={listError} />
        <button
          type="button"
          className="button button-small"
          onClick={() => void reloadConversations().catch(() => undefined)}
        >
          Try again
        </button>
      </div>
    );
  }
  if (!state.listLoaded && conversations.length === 0) {
    return (
      <p className="muted conversation-list-note" role="status">
        Loading conversations…
      </p>
    );
  }
  if (conversations.length === 0) {
    return (
      <p className="muted conversation-list-note">
        No conversations yet. Start one above with someone&apos;s handle.
      </p>
    );
  }
  return (
    <ul className="conversation-list">
      {conversations.map((c) => {
        const name = conversationName(c, me.id);
        const last = c.lastMessage;
        const preview = last
          ? `${last.sender.id === me.id ? 'You: ' : c.kind === 'GROUP' ? `${last.sender.displayName}: ` : ''}${last.deleted ? 'Message deleted' : last.text}`
          : 'No messages yet';
        const typers = Object.values(state.typing[c.id] ?? {});
        return (
          <li key={c.id}>
            <Link
              to={`/chat/${c.id}`}
              className={`conversation-item ${c.id === activeId ? 'active' : ''} ${c.unreadCount > 0 ? 'unread' : ''}`}
              aria-current={c.id === activeId ? 'page' : undefined}
            >
              <Avatar name={name} size={40} />
              <span className="conversation-text">
                <span className="conversation-top">
                  <span className="conversation-name">{name}</span>
                  <time className="conversation-time" dateTime={c.lastActivityAt}>
                    {shortTime(c.lastActivityAt)}
                  </time>
                </span>
                <span className="conversation-bottom">
                  <span className={`conversation-preview ${typers.length ? 'typing-preview' : ''}`}>
                    {typers.length ? 'typing…' : preview}
                  </span>
                  {c.unreadCount > 0 && (
                    <span className="badge">
                      {c.unreadCount > 99 ? '99+' : c.unreadCount}
                      <span className="visually-hidden"> unread</span>
                    </span>
                  )}
                </span>
              </span>
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
