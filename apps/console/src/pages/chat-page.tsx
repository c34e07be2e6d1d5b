import { Link, useParams } from 'react-router';
import { ConversationList } from '../chat/conversation-list.js';
import { ConversationView } from '../chat/conversation-view.js';
import { NewConversation } from '../chat/new-conversation.js';
import { useTitle } from '../use-title.js';

/**
 * The list of conversations beside the open one. On a narrow screen only
 * one of the two shows: the list at /chat, the conversation at /chat/:id
 * (with a way back).
 */
export function ChatPage() {
  const { conversationId } = useParams();
  useTitle('Chat');
  return (
    <div className={`chat ${conversationId ? 'chat-open' : ''}`}>
      <aside className="chat-sidebar" aria-label="Conversations">
        <NewConversation />
        <ConversationList activeId={conversationId ?? null} />
      </aside>
      <section className="chat-main">
        {conversationId ? (
          <ConversationView key={conversationId} conversationId={conversationId} />
        ) : (
          <div className="chat-empty">
            <h1>Your conversations</h1>
            <p className="muted">Pick a conversation, or start one with someone by their handle.</p>
            <p className="muted small">
              Tip: <kbd>Enter</kbd> sends, <kbd>Shift</kbd>+<kbd>Enter</kbd> starts a new line,{' '}
              <kbd>Esc</kbd> cancels an edit. <Link to="/profile">Set your avatar</Link> so friends
              recognise you.
            </p>
          </div>
        )}
      </section>
    </div>
  );
}
