import type { ReactNode } from 'react';

/** The centred card the sign-in and sign-up pages sit in. */
export function AuthCard({
  title,
  subtitle,
  children,
}: {
  title: string;
  subtitle: string;
  children: ReactNode;
}) {
  return (
    <main id="main" className="auth-page">
      <div className="auth-card card">
        <p className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">A</span> Arcadia
        </p>
        <h1>{title}</h1>
        <p className="muted">{subtitle}</p>
        {children}
      </div>
    </main>
  );
}
