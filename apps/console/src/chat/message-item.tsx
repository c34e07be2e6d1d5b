import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { ApiError } from '../components/api-error.js';
import type { ChatMessage } from './chat-state.js';

/** Edits are accepted within 15 minutes of sending (docs/api.md, chat limits). */
const EDIT_WINDOW_MS = 15 * 60 * 1000;

type Receipt = 'sending' | 'failed' | 'sent' | 'delivered' | 'read';

/** Where one of my messages is: every other member has it, or has read it. */
function receiptOf(message: ChatMessage, others: readonly string[]): Receipt {
  if (message.delivery) return message.delivery;
  const all = (list: readonly { id: string }[]) =>
    others.length > 0 && others.every((id) => list.some((u) => u.id === id));
  if (all(message.readBy)) return 'read';
  if (all(message.deliveredTo) || all([...message.deliveredTo, ...message.readBy])) {
    return 'delivered';
  }
  return 'sent';
}

const RECEIPT_LABELS: Record<Receipt, string> = {
  sending: 'Sending',
  failed: 'Not sent',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
};
const RECEIPT_MARKS: Record<Receipt, string> = {
  sending: '◷',
  failed: '!',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓',
};

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * One message: the text, its time, "edited", and on the user's own: the
 * receipt (sending, sent, delivered, read), retry for a failed send, and
 * edit (Enter saves, Escape cancels) and delete (with a confirmation).
 */
export function MessageItem({
  message,
  mine,
  otherMemberIds,
  showSender,
  onEdit,
  onDelete,
  onRetry,
}: {
  message: ChatMessage;
  mine: boolean;
  otherMemberIds: readonly string[];
  showSender: boolean;
  onEdit: (text: string) => Promise<void>;
  onDelete: () => Promise<void>;
  onRetry: () => void;
}) {
  const [mode, setMode] = useState<'view' | 'edit' | 'confirmDelete'>('view');
  const [draft, setDraft] = useState(message.text);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const editor = useRef<HTMLTextAreaElement>(null);
  const keep = useRef<HTMLButtonElement>(null);
  const previousMode = useRef(mode);

  // Focus follows the action: into the editor or the confirmation, and back
  // to the button that opened it when it closes.
  useEffect(() => {
    if (mode === 'edit') {
      editor.current?.focus();
      editor.current?.select();
    } else if (mode === 'confirmDelete') {
      keep.current?.focus();
    } else if (previousMode.current === 'edit') {
      editButton.current?.focus();
    } else if (previousMode.current === 'confirmDelete') {
      deleteButton.current?.focus();
    }
    previousMode.current = mode;
  }, [mode]);

  const editable =
    mine &&
    !message.delivery &&
    !message.deleted &&
    Date.now() - Date.parse(message.createdAt) < EDIT_WINDOW_MS;
  const receipt = mine ? receiptOf(message, otherMemberIds) : null;

  async function save() {
    const text = draft.trim();
    if (!text || text === message.text) {
      setMode('view');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onEdit(text);
      setMode('view');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function confirmDelete() {
    setBusy(true);
    setError(null);
    try {
      await onDelete();
      setMode('view');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function editorKeys(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Escape') {
      event.preventDefault();
      setDraft(message.text);
      setError(null);
      setMode('view');
    } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void save();
    }
  }

  return (
    <li className={`message ${mine ? 'message-mine' : 'message-theirs'}`}>
      <div
        className={`bubble ${message.deleted ? 'bubble-deleted' : ''}`}
        // Focusable when it has actions: a tap shows them on touch screens.
        tabIndex={editable && mode === 'view' ? 0 : undefined}
      >
        {showSender && !mine ? (
          <p className="message-sender">{message.sender.displayName}</p>
        ) : (
          // Who said it, for screen readers (sighted people see the side it is on).
          <span className="visually-hidden">{mine ? 'You' : message.sender.displayName}: </span>
        )}
        {mode === 'edit' ? (
          <div className="message-editor">
            <label className="visually-hidden" htmlFor={`edit-${message.id}`}>
              Edit message
            </label>
            <textarea
              id={`edit-${message.id}`}
              ref={editor}
              value={draft}
              rows={Math.min(6, Math.max(1, draft.split('\n').length))}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={editorKeys}
              disabled={busy}
              maxLength={4000}
            />
            <div className="message-editor-actions">
              <button
                type="button"
                className="button button-small"
                onClick={() => {
                  setDraft(message.text);
                  setMode('view');
                }}
              >
                Cancel
              </button>
              <button
                type="button"
                className="button button-small button-primary"
                onClick={() => void save()}
                disabled={busy}
              >
                Save
              </button>
            </div>
          </div>
        ) : message.deleted ? (
          <p className="message-text">This message was deleted.</p>
        ) : (
          <p className="message-text">{message.text}</p>
        )}
        <p className="message-meta">
          <time dateTime={message.createdAt}>{clock(message.createdAt)}</time>
          {message.editedAt && !message.deleted && <span> · edited</span>}
          {receipt && (
            <span
              role="img"
              aria-label={RECEIPT_LABELS[receipt]}
              title={RECEIPT_LABELS[receipt]}
              className={`receipt receipt-${receipt}`}
            >
              {RECEIPT_MARKS[receipt]}
            </span>
          )}
        </p>
      </div>
      {message.delivery === 'failed' && (
        <div className="message-failed">
          <ApiError error={message.error} wording={{ RATE_LIMITED: 'Too many messages.' }} />
          <button type="button" className="button button-small" onClick={onRetry}>
            Retry
          </button>
        </div>
      )}
      {mode === 'confirmDelete' && (
        <div className="message-confirm" role="group" aria-label="Delete this message?">
          <span>Delete this message for everyone?</span>
          <button
            ref={keep}
            type="button"
            className="button button-small"
            onClick={() => setMode('view')}
          >
            Keep
          </button>
          <button
            type="button"
            className="button button-small button-danger"
            onClick={() => void confirmDelete()}
            disabled={busy}
          >
            Delete
          </button>
        </div>
      )}
      {editable && mode === 'view' && (
        <div className="message-actions">
          <button
            ref={editButton}
            type="button"
            className="button button-small button-quiet"
            onClick={() => {
              setDraft(message.text);
              setMode('edit');
            }}
          >
            Edit
          </button>
          <button
            ref={deleteButton}
            type="button"
            className="button button-small button-quiet"
            onClick={() => setMode('confirmDelete')}
          >
            Delete
          </button>
        </div>
      )}
      <ApiError error={error} />
    </li>
  );
}
