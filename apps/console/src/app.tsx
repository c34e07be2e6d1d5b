import { Navigate, Outlet, Route, Routes, useLocation } from 'react-router';
import { ChatProvider } from './chat/chat-provider.js';
import { AppShell } from './components/layout.js';
import { ChatPage } from './pages/chat-page.js';
import { NotFoundPage } from './pages/not-found.js';
import { ProfilePage } from './pages/profile.js';
import { SignInPage } from './pages/sign-in.js';
import { SignUpPage } from './pages/sign-up.js';
import { useSession } from './session.js';

function Loading() {
  return (
    <main id="main" className="loading" aria-busy="true">
      <p role="status">Loading…</p>
    </main>
  );
}

/** Signed-in screens: the chat stays live across them; anyone else goes to sign-in. */
function RequireSession() {
  const { state } = useSession();
  const location = useLocation();
  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signedOut') {
    return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;
  }
  return (
    <ChatProvider key={state.user.id}>
      <AppShell />
    </ChatProvider>
  );
}

/** Sign-in and sign-up are for people not signed in. */
function SignedOutOnly() {
  const { state } = useSession();
  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signedIn') return <Navigate to="/chat" replace />;
  return <Outlet />;
}

/** The console's routes. */
export function App() {
  return (
    <Routes>
      <Route element={<SignedOutOnly />}>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route path="/sign-up" element={<SignUpPage />} />
      </Route>
      <Route element={<RequireSession />}>
        <Route index element={<Navigate to="/chat" replace />} />
        <Route path="/chat" element={<ChatPage />} />
        <Route path="/chat/:conversationId" element={<ChatPage />} />
        <Route path="/profile" element={<ProfilePage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
