import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { MeDocument, type ArcadiaClient, type UserSummaryFragment } from '@arcadia/sdk';

/** The signed-in user as the console shows them. */
export interface CurrentUser extends UserSummaryFragment {
  email: string | null;
}

/** Why the sign-in page is shown, when it is not the first visit. */
type SignedOutNotice = { tone: 'info' | 'warning'; text: string } | null;

type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut'; notice: SignedOutNotice }
  | { status: 'signedIn'; user: CurrentUser };

interface SessionContextValue {
  client: ArcadiaClient;
  state: SessionState;
  /** Replaces the shown user (e.g. after a new avatar). */
  updateUser: (update: (user: CurrentUser) => CurrentUser) => void;
  /** Shows the user of a session just started (sign-in, sign-up). */
  adopt: (user: UserSummaryFragment & { email?: string | null }) => void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

const SIGNED_OUT_NOTICES: Record<string, SignedOutNotice> = {
  SIGNED_OUT: { tone: 'info', text: 'You have signed out.' },
  SESSION_REVOKED: {
    tone: 'warning',
    text: 'Your session was ended (signed out elsewhere). Please sign in again.',
  },
  REFRESH_FAILED: { tone: 'warning', text: 'Your session has expired. Please sign in again.' },
};

function toCurrentUser(user: UserSummaryFragment & { email?: string | null }): CurrentUser {
  return {
    id: user.id,
    handle: user.handle,
    displayName: user.displayName,
    avatar: user.avatar,
    email: user.email ?? null,
  };
}

/**
 * Holds the SDK client and the session state: the session the SDK keeps in
 * localStorage is read once at start (so a reload stays signed in), every
 * new or refreshed session updates the shown user, and the SDK's
 * `signedOut` event (sign-out, a revoked session, a failed refresh) sends
 * the person to sign-in with a notice saying why.
 */
export function SessionProvider({
  client,
  children,
}: {
  client: ArcadiaClient;
  children: ReactNode;
}) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  useEffect(() => {
    let active = true;
    const offSession = client.on('session', (session) => {
      if (!active || !session) return;
      setState((previous) =>
        previous.status === 'signedIn' && previous.user.id === session.user.id
          ? { status: 'signedIn', user: { ...previous.user, ...toCurrentUser(session.user) } }
          : { status: 'signedIn', user: toCurrentUser(session.user) },
      );
    });
    const offSignedOut = client.on('signedOut', ({ reason }) => {
      if (!active) return;
      setState({ status: 'signedOut', notice: SIGNED_OUT_NOTICES[reason] ?? null });
    });
    void client.session.current().then(
      (session) => {
        if (!active) return;
        setState((previous) =>
          previous.status !== 'loading'
            ? previous
            : session
              ? { status: 'signedIn', user: toCurrentUser(session.user) }
              : { status: 'signedOut', notice: null },
        );
      },
      () => active && setState({ status: 'signedOut', notice: null }),
    );
    return () => {
      active = false;
      offSession();
      offSignedOut();
    };
  }, [client]);

  // The stored session's user may be days old (a new avatar from another
  // device); ask once per sign-in. Failures keep what the session had.
  const signedInId = state.status === 'signedIn' ? state.user.id : null;
  useEffect(() => {
    if (!signedInId) return;
    let active = true;
    client.request(MeDocument).then(
      ({ me }) => {
        if (!active || !me) return;
        setState((previous) =>
          previous.status === 'signedIn' && previous.user.id === me.id
            ? { status: 'signedIn', user: toCurrentUser(me) }
            : previous,
        );
      },
      () => undefined,
    );
    return () => {
      active = false;
    };
  }, [client, signedInId]);

  const updateUser = useCallback((update: (user: CurrentUser) => CurrentUser) => {
    setState((previous) =>
      previous.status === 'signedIn'
        ? { status: 'signedIn', user: update(previous.user) }
        : previous,
    );
  }, []);

  const adopt = useCallback((user: UserSummaryFragment & { email?: string | null }) => {
    setState({ status: 'signedIn', user: toCurrentUser(user) });
  }, []);

  const value = useMemo(
    () => ({ client, state, updateUser, adopt }),
    [client, state, updateUser, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

function useSessionContext(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession needs a <SessionProvider> above it');
  return value;
}

/** The SDK client. */
export function useClient(): ArcadiaClient {
  return useSessionContext().client;
}

/** The session state and the user updater. */
export function useSession(): Pick<SessionContextValue, 'state' | 'updateUser' | 'adopt'> {
  const { state, updateUser, adopt } = useSessionContext();
  return { state, updateUser, adopt };
}

/** The signed-in user; only for screens behind `<RequireSession>`. */
export function useCurrentUser(): CurrentUser {
  const { state } = useSessionContext();
  if (state.status !== 'signedIn') throw new Error('useCurrentUser outside a signed-in screen');
  return state.user;
}
