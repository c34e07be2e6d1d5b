import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ApiError } from '../components/api-error.js';
import { Field } from '../components/field.js';
import { useCurrentUser } from '../session.js';
import { useChat } from './chat-provider.js';

/** Starts (or reopens) a direct conversation with someone, by handle. */
export function NewConversation() {
  const { startWith } = useChat();
  const me = useCurrentUser();
  const navigate = useNavigate();
  const [handle, setHandle] = useState('');
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const wanted = handle.trim().replace(/^@/, '');
    setError(null);
    if (!wanted) {
      setFieldError('Enter a handle, e.g. nova.');
      return;
    }
    if (wanted.toLowerCase() === me.handle.toLowerCase()) {
      setFieldError('That is you. Enter someone else’s handle.');
      return;
    }
    setBusy(true);
    setFieldError(null);
    try {
      const conversation = await startWith(wanted);
      if (!conversation) {
        setFieldError(`No one has the handle @${wanted}.`);
      } else {
        setHandle('');
        void navigate(`/chat/${conversation.id}`);
      }
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="new-conversation" onSubmit={(e) => void submit(e)} noValidate>
      <h2 className="sidebar-heading">New conversation</h2>
      <div className="inline-form">
        <Field
          label="Handle"
          name="handle"
          placeholder="@handle"
          autoComplete="off"
          value={handle}
          error={fieldError}
          onChange={(e) => {
            setHandle(e.target.value);
            setFieldError(null);
          }}
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start'}
        </button>
      </div>
      <ApiError error={error} />
    </form>
  );
}
