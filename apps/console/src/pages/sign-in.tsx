import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { ApiError } from '../components/api-error.js';
import { Field } from '../components/field.js';
import { AuthCard } from '../components/auth-card.js';
import { useClient, useSession } from '../session.js';
import { useTitle } from '../use-title.js';

/** Where to go after signing in: back where the person was sent away from. */
function returnPath(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//')
    ? from
    : '/chat';
}

/** Email and password; says why the person is here after a sign-out or an ended session. */
export function SignInPage() {
  useTitle('Sign in');
  const client = useClient();
  const { state, adopt } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const notice = state.status === 'signedOut' ? state.notice : null;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await client.session.signIn(email.trim(), password);
      adopt(session.user);
      void navigate(returnPath(location.state), { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Sign in" subtitle="Welcome back to Arcadia.">
      {notice && !error && (
        <p role="status" className={`notice notice-${notice.tone}`}>
          {notice.text}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate className="stack">
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <ApiError
          error={error}
          wording={{
            UNAUTHENTICATED: 'That email and password do not match an account.',
            RATE_LIMITED: 'Too many sign-in attempts.',
          }}
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="auth-switch">
        New to Arcadia? <Link to="/sign-up">Create an account</Link>
      </p>
    </AuthCard>
  );
}
