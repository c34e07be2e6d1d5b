import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRoleCli } from '../src/cli/grant-role.js';
import {
  startAccounts,
  type AccountsHarness,
  claims,
  CREATE_API_CLIENT,
  failure,
  GRANT_ROLE,
  ISSUE_CLIENT_TOKEN,
  ME,
  ok,
  REFRESH,
  REVOKE_API_CLIENT,
  SIGN_IN,
  signUp,
  USER_FIELDS,
  type Session,
  type UserData,
} from './operations.js';

const ADMIN_EMAIL = `root.${randomUUID().slice(0, 8)}@example.com`;
const LATER_ADMIN_EMAIL = `later.${randomUUID().slice(0, 8)}@example.com`;

let h: AccountsHarness;
let admin: Session;
beforeAll(async () => {
  h = await startAccounts({ ADMIN_EMAILS: `${ADMIN_EMAIL.toUpperCase()}, ${LATER_ADMIN_EMAIL}` });
  admin = await signUp(h, { email: ADMIN_EMAIL });
});
afterAll(() => h?.stop());

const grant = (token: string, userId: string, role: string) =>
  h.request<{ grantRole: UserData }>(GRANT_ROLE, { variables: { userId, role }, token });

/** A user who holds PARTNER, signed in again so the token carries it. */
async function partner() {
  const session = await signUp(h);
  ok(await grant(admin.accessToken, session.user.id, 'PARTNER'));
  const { refreshSession } = ok(
    await h.request<{ refreshSession: Session }>(REFRESH, {
      variables: { t: session.refreshToken },
    }),
  );
  return refreshSession;
}

async function createClient(token: string, scopes = ['games:publish', 'trophies:define']) {
  return ok(
    await h.request<{
      createApiClient: { clientId: string; clientSecret: string; name: string; scopes: string[] };
    }>(CREATE_API_CLIENT, { variables: { name: 'CI pipeline', scopes }, token }),
  ).createApiClient;
}

const issue = (clientId: string, clientSecret: string) =>
  h.request<{ issueClientToken: Session }>(ISSUE_CLIENT_TOKEN, {
    variables: { clientId, clientSecret },
  });

describe('roles', () => {
  it('makes an account whose email is in ADMIN_EMAILS an ADMIN at sign-up', () => {
    expect(admin.user.roles).toEqual(['USER', 'ADMIN']);
    expect(claims(admin.accessToken).roles).toEqual(['USER', 'ADMIN']);
  });

  it('makes an existing account ADMIN at sign-in once its email is added to ADMIN_EMAILS', async () => {
    // Created as a plain USER, as if ADMIN_EMAILS had not listed it at the time.
    const later = await signUp(h, { email: LATER_ADMIN_EMAIL.replace('later', 'tmp') });
    await h.subject.db.query('update users set email = $1, roles = $2 where id = $3', [
      LATER_ADMIN_EMAIL,
      ['USER'],
      later.user.id,
    ]);
    const { signIn } = ok(
      await h.request<{ signIn: Session }>(SIGN_IN, {
        variables: { email: LATER_ADMIN_EMAIL, password: later.input.password },
      }),
    );
    expect(signIn.user.roles).toContain('ADMIN');
    expect(claims(signIn.accessToken).roles).toContain('ADMIN');
  });

  it('lets an ADMIN grant a role, once', async () => {
    const user = await signUp(h);
    expect(ok(await grant(admin.accessToken, user.user.id, 'STREAMER')).grantRole.roles).toEqual([
      'USER',
      'STREAMER',
    ]);
    expect(ok(await grant(admin.accessToken, user.user.id, 'STREAMER')).grantRole.roles).toEqual([
      'USER',
      'STREAMER',
    ]);
  });

  it('refuses grantRole to anyone but an ADMIN', async () => {
    const user = await signUp(h);
    const other = await signUp(h);
    expect(failure(await grant(user.accessToken, other.user.id, 'ADMIN')).extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect(failure(await grant(user.accessToken, user.user.id, 'ADMIN')).extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect(
      failure(await h.request(GRANT_ROLE, { variables: { userId: other.user.id, role: 'ADMIN' } }))
        .extensions?.code,
    ).toBe('UNAUTHENTICATED');
    const [row] = await h.subject.db.query('select roles from users where id = $1', [
      other.user.id,
    ]);
    expect(row!.roles).toEqual(['USER']);
  });

  it('answers NOT_FOUND for a user who does not exist', async () => {
    for (const userId of [randomUUID(), 'not-a-uuid']) {
      expect(failure(await grant(admin.accessToken, userId, 'STAFF')).extensions?.code).toBe(
        'NOT_FOUND',
      );
    }
  });

  it('grants a role from the command line, by email in any case', async () => {
    const user = await signUp(h);
    const lines: string[] = [];
    const env = { DATABASE_URL: h.subject.db.url, LOG_LEVEL: 'silent' };
    const code = await grantRoleCli([user.input.email.toUpperCase(), 'MODERATOR'], env, (l) =>
      lines.push(l),
    );
    expect(code, lines.join('\n')).toBe(0);
    const [row] = await h.subject.db.query('select roles from users where id = $1', [user.user.id]);
    expect(row!.roles).toEqual(['USER', 'MODERATOR']);

    expect(await grantRoleCli(['nobody@example.com', 'ADMIN'], env, () => {})).toBe(1);
    expect(await grantRoleCli([user.input.email, 'EMPEROR'], env, () => {})).toBe(2);
  });
});

describe('who sees what', () => {
  const USER_BY_HANDLE = `query ($handle: String!) { userByHandle(handle: $handle) { ${USER_FIELDS} } }`;
  const USER = `query ($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`;

  it('shows a profile to anyone but the email only to its owner and ADMINs', async () => {
    const alice = await signUp(h);
    const bob = await signUp(h);
    const asBob = ok(
      await h.request<{ user: UserData }>(USER, {
        variables: { id: alice.user.id },
        token: bob.accessToken,
      }),
    );
    expect(asBob.user).toMatchObject({
      id: alice.user.id,
      handle: alice.input.handle,
      email: null,
    });
    const anonymous = ok(
      await h.request<{ user: UserData }>(USER, { variables: { id: alice.user.id } }),
    );
    expect(anonymous.user.email).toBeNull();
    const asAlice = ok(
      await h.request<{ user: UserData }>(USER, {
        variables: { id: alice.user.id },
        token: alice.accessToken,
      }),
    );
    expect(asAlice.user.email).toBe(alice.input.email);
    const asAdmin = ok(
      await h.request<{ user: UserData }>(USER, {
        variables: { id: alice.user.id },
        token: admin.accessToken,
      }),
    );
    expect(asAdmin.user.email).toBe(alice.input.email);
  });

  it('finds a user by handle regardless of case, and nobody for an unknown one', async () => {
    const alice = await signUp(h);
    const found = ok(
      await h.request<{ userByHandle: UserData }>(USER_BY_HANDLE, {
        variables: { handle: alice.input.handle.toUpperCase() },
      }),
    );
    expect(found.userByHandle.id).toBe(alice.user.id);
    for (const handle of ['nobody_here', 'not a handle', 'user_%']) {
      expect(
        ok(await h.request(USER_BY_HANDLE, { variables: { handle } })).userByHandle,
      ).toBeNull();
    }
  });

  it('answers null for an unknown or malformed user id', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      expect(ok(await h.request(USER, { variables: { id } })).user).toBeNull();
    }
  });

  it('resolves User references from other subgraphs, batched, with the email still guarded', async () => {
    const alice = await signUp(h);
    const bob = await signUp(h);
    const query = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id handle email } } }`;
    const reps = [alice.user.id, randomUUID(), bob.user.id].map((id) => ({
      __typename: 'User',
      id,
    }));
    const { _entities } = ok(
      await h.requestSubgraph<{ _entities: (UserData | null)[] }>('accounts', query, {
        variables: { reps },
        caller: { userId: alice.user.id, roles: ['USER'], scopes: [] },
      }),
    );
    expect(_entities).toEqual([
      { id: alice.user.id, handle: alice.input.handle, email: alice.input.email },
      null,
      { id: bob.user.id, handle: bob.input.handle, email: null },
    ]);
  });
});

describe('partner API clients', () => {
  it('lets a PARTNER create a client whose credentials sign in as the partner with its scopes', async () => {
    const owner = await partner();
    const client = await createClient(owner.accessToken);
    expect(client).toMatchObject({
      name: 'CI pipeline',
      scopes: ['games:publish', 'trophies:define'],
    });
    expect(client.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] = await h.subject.db.query('select secret_hash from api_clients where id = $1', [
      client.clientId,
    ]);
    expect(row!.secret_hash).not.toContain(client.clientSecret);

    const { issueClientToken } = ok(await issue(client.clientId, client.clientSecret));
    expect(issueClientToken.user.id).toBe(owner.user.id);
    expect(claims(issueClientToken.accessToken)).toMatchObject({
      sub: owner.user.id,
      roles: ['PARTNER'],
      scope: 'games:publish trophies:define',
      cid: client.clientId,
    });
    const { me } = ok(
      await h.request<{ me: UserData }>(ME, { token: issueClientToken.accessToken }),
    );
    expect(me.id).toBe(owner.user.id);

    // The client's session refreshes like any other and keeps its limits.
    const { refreshSession } = ok(
      await h.request<{ refreshSession: Session }>(REFRESH, {
        variables: { t: issueClientToken.refreshToken },
      }),
    );
    expect(claims(refreshSession.accessToken)).toMatchObject({
      roles: ['PARTNER'],
      cid: client.clientId,
    });
  });

  it('never gives a client token more than PARTNER, even for an ADMIN owner', async () => {
    const client = await createClient(admin.accessToken, ['admin:tools']);
    const { issueClientToken } = ok(await issue(client.clientId, client.clientSecret));
    expect(claims(issueClientToken.accessToken).roles).toEqual(['PARTNER']);
  });

  it('refuses createApiClient to a caller without PARTNER, and to a client token', async () => {
    const user = await signUp(h);
    const refused = await h.request(CREATE_API_CLIENT, {
      variables: { name: 'x', scopes: ['a'] },
      token: user.accessToken,
    });
    expect(failure(refused).extensions?.code).toBe('FORBIDDEN');

    const owner = await partner();
    const client = await createClient(owner.accessToken);
    const { issueClientToken } = ok(await issue(client.clientId, client.clientSecret));
    const viaClient = await h.request(CREATE_API_CLIENT, {
      variables: { name: 'x', scopes: ['a'] },
      token: issueClientToken.accessToken,
    });
    expect(failure(viaClient).extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses invalid client names and scopes with BAD_USER_INPUT and writes nothing', async () => {
    const owner = await partner();
    const count = async () =>
      Number((await h.subject.db.query('select count(*) as n from api_clients'))[0]!.n);
    const before = await count();
    for (const [variables, field] of [
      [{ name: ' ', scopes: ['a'] }, 'name'],
      [{ name: 'ok', scopes: [] }, 'scopes'],
      [{ name: 'ok', scopes: ['has space'] }, 'scopes'],
      [{ name: 'ok', scopes: ['a', 'a'] }, 'scopes'],
    ] as const) {
      const error = failure(
        await h.request(CREATE_API_CLIENT, { variables, token: owner.accessToken }),
      );
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await count()).toBe(before);
  });

  it('refuses a wrong secret or an unknown client with the same UNAUTHENTICATED', async () => {
    const owner = await partner();
    const client = await createClient(owner.accessToken);
    const wrongSecret = failure(
      await issue(
        client.clientId,
        client.clientSecret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
      ),
    );
    const unknown = failure(await issue(randomUUID(), client.clientSecret));
    const malformed = failure(await issue('nope', 'nope'));
    for (const error of [wrongSecret, unknown, malformed]) {
      expect(error.extensions?.code).toBe('UNAUTHENTICATED');
      expect(error.message).toBe(wrongSecret.message);
    }
  });

  it('stops a revoked client from issuing or refreshing tokens', async () => {
    const owner = await partner();
    const client = await createClient(owner.accessToken);
    const { issueClientToken } = ok(await issue(client.clientId, client.clientSecret));

    const stranger = await signUp(h);
    const notYours = await h.request(REVOKE_API_CLIENT, {
      variables: { clientId: client.clientId },
      token: stranger.accessToken,
    });
    expect(failure(notYours).extensions?.code).toBe('NOT_FOUND');

    const revoke = () =>
      h.request<{ revokeApiClient: boolean }>(REVOKE_API_CLIENT, {
        variables: { clientId: client.clientId },
        token: owner.accessToken,
      });
    expect(ok(await revoke()).revokeApiClient).toBe(true);
    expect(ok(await revoke()).revokeApiClient).toBe(false);
    expect(failure(await issue(client.clientId, client.clientSecret)).extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    const refresh = await h.request(REFRESH, { variables: { t: issueClientToken.refreshToken } });
    expect(failure(refresh).extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('operations', () => {
  it('reports ready while the database answers', async () => {
    const res = await fetch(h.subgraphUrl('accounts').replace('/graphql', '/ready'));
    expect(res.status).toBe(200);
  });

  it('refuses a request that did not come through the router', async () => {
    const res = await fetch(h.subgraphUrl('accounts'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(res.status).toBe(401);
  });
});
