import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError } from '../components/api-error.js';
import { AuthCard } from '../components/auth-card.js';
import { Field } from '../components/field.js';
import { fieldErrorOf, type FieldError } from '../errors.js';
import { useClient, useSession } from '../session.js';
import { useTitle } from '../use-title.js';

const FIELDS = ['handle', 'displayName', 'email', 'password'] as const;
type FieldName = (typeof FIELDS)[number];

/**
 * A new account. The API validates (BAD_USER_INPUT) and refuses a taken
 * handle or email (CONFLICT); either error names its field, and is shown
 * next to it, with focus moved there.
 */
export function SignUpPage() {
  useTitle('Create an account');
  const client = useClient();
  const { adopt } = useSession();
  const navigate = useNavigate();
  const [values, setValues] = useState<Record<FieldName, string>>({
    handle: '',
    displayName: '',
    email: '',
    password: '',
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [fieldError, setFieldError] = useState<FieldError | null>(null);

  function change(field: FieldName, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    if (fieldError?.field === field) setFieldError(null);
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      const session = await client.session.signUp({
        handle: values.handle.trim(),
        displayName: values.displayName.trim(),
        email: values.email.trim(),
        password: values.password,
      });
      adopt(session.user);
      void navigate('/chat', { replace: true });
    } catch (caught) {
      const onField = fieldErrorOf(caught, FIELDS);
      if (onField) {
        setFieldError(onField);
        form.querySelector<HTMLInputElement>(`[name="${onField.field}"]`)?.focus();
      } else {
        setError(caught);
      }
      setBusy(false);
    }
  }

  const errorFor = (field: FieldName) => (fieldError?.field === field ? fieldError.message : null);

  return (
    <AuthCard title="Create your account" subtitle="One account for chat, your profile and more.">
      <form onSubmit={(e) => void submit(e)} noValidate className="stack">
        <Field
          label="Handle"
          name="handle"
          autoComplete="username"
          hint="3–24 letters, digits or underscores; others find you by it."
          required
          value={values.handle}
          error={errorFor('handle')}
          onChange={(e) => change('handle', e.target.value)}
        />
        <Field
          label="Display name"
          name="displayName"
          autoComplete="nickname"
          required
          value={values.displayName}
          error={errorFor('displayName')}
          onChange={(e) => change('displayName', e.target.value)}
        />
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={values.email}
          error={errorFor('email')}
          onChange={(e) => change('email', e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          hint="At least 10 characters."
          required
          value={values.password}
          error={errorFor('password')}
          onChange={(e) => change('password', e.target.value)}
        />
        <ApiError error={error} wording={{ RATE_LIMITED: 'Too many sign-ups from here.' }} />
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Creating your account…' : 'Create account'}
        </button>
      </form>
      <p className="auth-switch">
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </AuthCard>
  );
}
