import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { createArcadiaClient, localSessionStorage } from '@arcadia/sdk';
import { App } from './app.js';
import { apiUrl } from './config.js';
import { SessionProvider } from './session.js';
import './styles/base.css';
import './styles/layout.css';
import './styles/chat.css';

// One client for the page's lifetime: it owns the socket, the session in
// localStorage and its silent refresh.
const client = createArcadiaClient({
  url: apiUrl(),
  auth: { kind: 'session', storage: localSessionStorage() },
  // Persisted queries hash with WebCrypto, which browsers offer on secure
  // origins only (https, localhost): not on http://<LAN address>:5173.
  persistedQueries: globalThis.isSecureContext && !!globalThis.crypto?.subtle,
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter>
      <SessionProvider client={client}>
        <App />
      </SessionProvider>
    </BrowserRouter>
  </StrictMode>,
);
