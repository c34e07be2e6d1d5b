import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAccounts,
  type AccountsHarness,
  claims,
  failure,
  ME,
  newAccount,
  ok,
  REFRESH,
  SIGN_IN,
  SIGN_OUT,
  SIGN_UP,
  signUp,
  type Session,
  type UserData,
} from './operations.js';

let h: AccountsHarness;
beforeAll(async () => {
  h = await startAccounts();
});
afterAll(() => h?.stop());

const countUsers = async () =>
  Number((await h.subject.db.query('select count(*) as n from users'))[0]!.n);
const refresh = (token: string) =>
  h.request<{ refreshSession: Session }>(REFRESH, { variables: { t: token } });

describe('signing up', () => {
  it('creates a USER and signs them in with a token that works for me', async () => {
    const session = await signUp(h, { displayName: '  Ada Lovelace  ' });
    expect(session.user).toMatchObject({
      handle: session.input.handle,
      displayName: 'Ada Lovelace',
      roles: ['USER'],
      email: session.input.email,
    });
    expect(new Date(session.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(claims(session.accessToken)).toMatchObject({ sub: session.user.id, roles: ['USER'] });

    const { me } = ok(await h.request<{ me: UserData }>(ME, { token: session.accessToken }));
    expect(me).toEqual(session.user);
  });

  it('stores an argon2id hash of the password and only a hash of the refresh token', async () => {
    const session = await signUp(h);
    const [user] = await h.subject.db.query('select password_hash from users where id = $1', [
      session.user.id,
    ]);
    expect(user!.password_hash).toMatch(/^\$argon2id\$/);
    expect(user!.password_hash).not.toContain(session.input.password);
    const [id, secret] = session.refreshToken.split('.');
    const [token] = await h.subject.db.query(
      'select secret_hash from refresh_tokens where id = $1',
      [id],
    );
    expect(token!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(token!.secret_hash).not.toContain(secret);
  });

  it('refuses a handle or email taken in another case with CONFLICT and writes nothing', async () => {
    const first = await signUp(h);
    const before = await countUsers();

    const sameHandle = await h.request(SIGN_UP, {
      variables: { input: newAccount({ handle: first.input.handle.toUpperCase() }) },
    });
    expect(failure(sameHandle).extensions).toMatchObject({ code: 'CONFLICT', field: 'handle' });

    const sameEmail = await h.request(SIGN_UP, {
      variables: { input: newAccount({ email: first.input.email.toUpperCase() }) },
    });
    expect(failure(sameEmail).extensions).toMatchObject({ code: 'CONFLICT', field: 'email' });
    expect(await countUsers()).toBe(before);
  });

  it('gives exactly one of two concurrent sign-ups for the same handle the account', async () => {
    const handle = newAccount().handle;
    const results = await Promise.all(
      [0, 1].map(() => h.request(SIGN_UP, { variables: { input: newAccount({ handle }) } })),
    );
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(failure(results.find((r) => r.errors)!).extensions?.code).toBe('CONFLICT');
  });

  it.each([
    ['handle', { handle: 'ab' }],
    ['handle', { handle: 'has space' }],
    ['handle', { handle: 'x'.repeat(25) }],
    ['email', { email: 'not-an-email' }],
    ['password', { password: 'short' }],
    ['password', { password: 'p'.repeat(257) }],
    ['displayName', { displayName: '   ' }],
    ['displayName', { displayName: 'bell\u0007' }],
    ['displayName', { displayName: 'n'.repeat(51) }],
  ])('refuses an invalid %s with BAD_USER_INPUT and writes nothing', async (field, override) => {
    const before = await countUsers();
    const response = await h.request(SIGN_UP, { variables: { input: newAccount(override) } });
    const error = failure(response);
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(error.message).toMatch(/\w/);
    expect(await countUsers()).toBe(before);
  });
});

describe('signing in', () => {
  it('accepts the email in any case and the right password', async () => {
    const { input, user } = await signUp(h);
    const { signIn } = ok(
      await h.request<{ signIn: Session }>(SIGN_IN, {
        variables: { email: input.email.toUpperCase(), password: input.password },
      }),
    );
    expect(signIn.user.id).toBe(user.id);
    expect(ok(await h.request<{ me: UserData }>(ME, { token: signIn.accessToken })).me.id).toBe(
      user.id,
    );
  });

  it('answers a wrong password and an unknown email with the same error', async () => {
    const { input } = await signUp(h);
    const wrongPassword = failure(
      await h.request(SIGN_IN, { variables: { email: input.email, password: 'not the password' } }),
    );
    const unknownEmail = failure(
      await h.request(SIGN_IN, {
        variables: { email: 'nobody@example.com', password: input.password },
      }),
    );
    expect(wrongPassword.extensions?.code).toBe('UNAUTHENTICATED');
    expect(wrongPassword.message).toBe('Invalid email or password.');
    expect({ message: unknownEmail.message, code: unknownEmail.extensions?.code }).toEqual({
      message: wrongPassword.message,
      code: wrongPassword.extensions?.code,
    });
  });

  it('gives me as null to an anonymous caller', async () => {
    expect(ok(await h.request(ME)).me).toBeNull();
  });
});

describe('refreshing a session', () => {
  it('rotates: a new pair in the same session, the old refresh token spent', async () => {
    const session = await signUp(h);
    const { refreshSession: next } = ok(await refresh(session.refreshToken));
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect(next.user.id).toBe(session.user.id);
    expect(claims(next.accessToken).sid).toBe(claims(session.accessToken).sid);
    expect(ok(await h.request<{ me: UserData }>(ME, { token: next.accessToken })).me.id).toBe(
      session.user.id,
    );
    const { refreshSession: third } = ok(await refresh(next.refreshToken));
    expect(third.refreshToken).not.toBe(next.refreshToken);
  });

  // Past the reuse interval without waiting for it: the database's clock decides, so move used_at back.
  const spendLongAgo = (refreshToken: string) =>
    h.subject.db.query(
      "update refresh_tokens set used_at = used_at - interval '1 hour' where id = $1",
      [refreshToken.split('.')[0]],
    );

  it('revokes the whole family when a rotated refresh token is used again after the reuse interval', async () => {
    const session = await signUp(h);
    const { refreshSession: next } = ok(await refresh(session.refreshToken));
    await spendLongAgo(session.refreshToken);

    const replay = failure(await refresh(session.refreshToken));
    expect(replay.extensions?.code).toBe('UNAUTHENTICATED');
    // The legitimate holder's newer token dies with the family.
    expect(failure(await refresh(next.refreshToken)).extensions?.code).toBe('UNAUTHENTICATED');
    const rows = await h.subject.db.query(
      'select revoked_at, successor_sealed from refresh_tokens where id = any($1)',
      [[session.refreshToken.split('.')[0], next.refreshToken.split('.')[0]]],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows)
      expect(row).toMatchObject({ revoked_at: expect.anything(), successor_sealed: null });
  });

  it('gives two concurrent refreshes of the same token the same pair and keeps the session alive', async () => {
    const session = await signUp(h);
    const [first, second] = await Promise.all([
      refresh(session.refreshToken),
      refresh(session.refreshToken),
    ]);
    const a = ok(first).refreshSession;
    const b = ok(second).refreshSession;
    expect({
      accessToken: b.accessToken,
      refreshToken: b.refreshToken,
      expiresAt: b.expiresAt,
    }).toEqual({
      accessToken: a.accessToken,
      refreshToken: a.refreshToken,
      expiresAt: a.expiresAt,
    });
    expect(b.user.id).toBe(session.user.id);
    expect(ok(await h.request<{ me: UserData }>(ME, { token: a.accessToken })).me.id).toBe(
      session.user.id,
    );
    // One successor only, and it rotates on.
    const [successors] = await h.subject.db.query(
      'select count(*)::int as n from refresh_tokens where parent_id = $1',
      [session.refreshToken.split('.')[0]],
    );
    expect(successors!.n).toBe(1);
    ok(await refresh(a.refreshToken));
  });

  it('gives a second use within the reuse interval the same pair, stored sealed', async () => {
    const session = await signUp(h);
    const { refreshSession: next } = ok(await refresh(session.refreshToken));
    const { refreshSession: again } = ok(await refresh(session.refreshToken));
    expect(again.refreshToken).toBe(next.refreshToken);
    expect(again.accessToken).toBe(next.accessToken);
    const [row] = await h.subject.db.query(
      'select successor_sealed from refresh_tokens where id = $1',
      [session.refreshToken.split('.')[0]],
    );
    expect(row!.successor_sealed).toMatch(/\w/);
    expect(row!.successor_sealed).not.toContain(next.refreshToken.split('.')[1]);
  });

  it('refuses a second use within the reuse interval once the session is signed out', async () => {
    const session = await signUp(h);
    const { refreshSession: next } = ok(await refresh(session.refreshToken));
    ok(await h.request(SIGN_OUT, { token: next.accessToken }));
    expect(failure(await refresh(session.refreshToken)).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it.each([
    ['garbage', 'not-a-token'],
    [
      'an unknown id',
      '00000000-0000-4000-8000-000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ],
  ])('refuses %s with UNAUTHENTICATED', async (_what, token) => {
    expect(failure(await refresh(token)).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token whose secret does not match, without spending it', async () => {
    const session = await signUp(h);
    const [id] = session.refreshToken.split('.');
    const forged = `${id}.${'A'.repeat(43)}`;
    expect(failure(await refresh(forged)).extensions?.code).toBe('UNAUTHENTICATED');
    ok(await refresh(session.refreshToken));
  });

  it('refuses an expired refresh token', async () => {
    const session = await signUp(h);
    await h.subject.db.query(
      "update refresh_tokens set expires_at = now() - interval '1 second' where id = $1",
      [session.refreshToken.split('.')[0]],
    );
    expect(failure(await refresh(session.refreshToken)).extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('refreshing with a short reuse interval', () => {
  let strict: AccountsHarness;
  beforeAll(async () => {
    strict = await startAccounts({ REFRESH_REUSE_INTERVAL_SECONDS: '0' });
  });
  afterAll(() => strict?.stop());

  it('revokes the family at once when the interval is 0, even for a concurrent duplicate', async () => {
    const session = await signUp(strict);
    const results = await Promise.all(
      [0, 1].map(() =>
        strict.request<{ refreshSession: Session }>(REFRESH, {
          variables: { t: session.refreshToken },
        }),
      ),
    );
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    const winner = results.find((r) => !r.errors)!.data!.refreshSession;
    const next = await strict.request(REFRESH, { variables: { t: winner.refreshToken } });
    expect(failure(next).extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('signing out', () => {
  it('ends the session: its refresh token no longer works', async () => {
    const session = await signUp(h);
    const { refreshSession: next } = ok(await refresh(session.refreshToken));
    expect(
      ok(await h.request<{ signOut: boolean }>(SIGN_OUT, { token: next.accessToken })).signOut,
    ).toBe(true);
    expect(failure(await refresh(next.refreshToken)).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("leaves the user's other sessions alone", async () => {
    const first = await signUp(h);
    const { signIn: second } = ok(
      await h.request<{ signIn: Session }>(SIGN_IN, {
        variables: { email: first.input.email, password: first.input.password },
      }),
    );
    ok(await h.request(SIGN_OUT, { token: first.accessToken }));
    ok(await refresh(second.refreshToken));
  });

  it('asks an anonymous caller to sign in first', async () => {
    expect(failure(await h.request(SIGN_OUT)).extensions?.code).toBe('UNAUTHENTICATED');
  });
});
