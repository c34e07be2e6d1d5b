import { useEffect, useState } from 'react';
import { Link, NavLink, Outlet } from 'react-router';
import { useChat } from '../chat/chat-provider.js';
import { describeError } from '../errors.js';
import { useClient, useCurrentUser } from '../session.js';
import { Avatar } from './avatar.js';

/** The browser's own idea of being online (the socket may take longer to notice). */
function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

/**
 * "Reconnecting…" while the live connection is down, or why live updates
 * stopped; announced politely.
 */
function ConnectionBanner() {
  const { live, liveError } = useChat();
  const online = useOnline();
  const down = live === 'reconnecting' || !online;
  let text = '';
  if (liveError) {
    text = `Live updates stopped: ${describeError(liveError).message} Reload the page to try again.`;
  } else if (down) {
    text = online
      ? 'Reconnecting… New messages will appear once the connection is back.'
      : 'You are offline. Reconnecting… New messages will appear once you are back online.';
  }
  return (
    <div role="status" className={text ? 'banner banner-warning' : 'visually-hidden'}>
      {text}
    </div>
  );
}

/**
 * The signed-in frame: a top bar with the sections, the user and sign-out,
 * the connection banner, then the page.
 */
export function AppShell() {
  const client = useClient();
  const user = useCurrentUser();
  const { state } = useChat();
  const [signingOut, setSigningOut] = useState(false);
  const unread = Object.values(state.conversations).reduce((n, c) => n + c.unreadCount, 0);

  async function signOut() {
    setSigningOut(true);
    try {
      // Emits 'signedOut', which takes the person to the sign-in page.
      await client.session.signOut();
    } finally {
      setSigningOut(false);
    }
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/chat" className="brand" aria-label="Arcadia Console, home">
          <span className="brand-mark" aria-hidden="true">
            A
          </span>
          <span className="brand-name">Arcadia</span> <span className="brand-product">Console</span>
        </Link>
        <nav aria-label="Main" className="topnav">
          <NavLink to="/chat">
            Chat
            {unread > 0 && (
              <span className="badge">
                {unread > 99 ? '99+' : unread}
                <span className="visually-hidden"> unread</span>
              </span>
            )}
          </NavLink>
          <NavLink to="/profile">Profile</NavLink>
        </nav>
        <div className="topbar-user">
          <Link to="/profile" className="topbar-me">
            <Avatar
              name={user.displayName}
              url={user.avatar?.url}
              placeholder={user.avatar?.placeholder}
              size={32}
            />
            <span className="topbar-name">{user.displayName}</span>
          </Link>
          <button
            type="button"
            className="button button-quiet"
            onClick={() => void signOut()}
            disabled={signingOut}
          >
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" className="shell-main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
