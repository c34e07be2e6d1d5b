import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANONYMOUS } from '@arcadia/auth';
import { eventually, type GraphQLResponse } from '@arcadia/testing';
import { TEST_PASSWORD } from '../src/testing.js';
import {
  CREATE_API_CLIENT,
  ISSUE_CLIENT_TOKEN,
  SIGN_IN,
  ok,
  signUp,
  startAccounts,
  type AccountsHarness,
  type Session,
} from './operations.js';

const ALLOWANCE = 10;
const PER_ADDRESS = 15;
const ADMIN_EMAIL = `root.${randomUUID().slice(0, 8)}@example.com`;

// `slow` blocks for long enough that no block ends during a test; `quick`
// blocks for 1 s (then 2 s, …) so the back-off and its end can be watched.
let slow: AccountsHarness;
let quick: AccountsHarness;
beforeAll(async () => {
  const limits = {
    SIGN_IN_MAX_FAILURES: String(ALLOWANCE),
    SIGN_IN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
    SIGN_IN_WINDOW_SECONDS: '600',
  };
  // The router forwards the client address; these requests all come from
  // loopback, so each test speaks for a client of its own through a trusted
  // X-Forwarded-For, and per-address counts never leak between tests.
  const routerEnv = { TRUSTED_PROXIES: '127.0.0.1,::1', MAX_CONNECTIONS_PER_CLIENT: '0' };
  [slow, quick] = await Promise.all([
    startAccounts(
      { ...limits, SIGN_IN_BLOCK_SECONDS: '300', ADMIN_EMAILS: ADMIN_EMAIL },
      routerEnv,
    ),
    startAccounts(
      { ...limits, SIGN_IN_BLOCK_SECONDS: '1', SIGN_IN_MAX_BLOCK_SECONDS: '60' },
      routerEnv,
    ),
  ]);
});
let clientAddress = '';
/** Speaks for a new client address from now on. */
function newClientAddress() {
  const octet = () => 1 + Math.floor(Math.random() * 250);
  clientAddress = `10.${octet()}.${octet()}.${octet()}`;
}
beforeEach(newClientAddress);
const fromClient = () => ({ 'x-forwarded-for': clientAddress });
afterAll(() => Promise.all([slow?.stop(), quick?.stop()]));

/** argon2 computations the harness' accounts made so far, from its `/metrics`. */
async function hashes(h: AccountsHarness): Promise<number> {
  const url = h.subgraphUrl('accounts').replace(/\/graphql$/, '/metrics');
  const text = await (await fetch(url)).text();
  const sample = /^accounts_password_hashes_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
  expect(sample, 'accounts_password_hashes_total on /metrics').not.toBeNull();
  return Number(sample![1]);
}

const signIn = (h: AccountsHarness, email: string, password: string) =>
  h.request<{ signIn: Session }>(SIGN_IN, {
    variables: { email, password },
    headers: fromClient(),
  });

/** Runs `count` calls of `attempt`, at most `concurrency` at once; the answers in order. */
async function fire<T>(count: number, concurrency: number, attempt: (i: number) => Promise<T>) {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await attempt(i);
      }
    }),
  );
  return results;
}

/** How many answers failed with each code, and the smallest `retryAfterSeconds` given. */
function tally(responses: readonly GraphQLResponse[]) {
  const codes: Record<string, number> = {};
  let minRetryAfter = Number.POSITIVE_INFINITY;
  for (const response of responses) {
    const error = response.errors?.[0];
    const code = String(error?.extensions?.code ?? 'OK');
    codes[code] = (codes[code] ?? 0) + 1;
    if (code === 'RATE_LIMITED') {
      minRetryAfter = Math.min(minRetryAfter, Number(error?.extensions?.retryAfterSeconds));
    }
  }
  return { codes, minRetryAfter };
}

/** The `retryAfterSeconds` of a response that must be RATE_LIMITED. */
function retryAfter(response: GraphQLResponse): number {
  const error = response.errors?.[0];
  expect(error?.extensions?.code, JSON.stringify(response.errors)).toBe('RATE_LIMITED');
  return Number(error?.extensions?.retryAfterSeconds);
}

describe('sign-in brute-force limits', () => {
  it('lets 1,000 wrong passwords for one account cost no more argon2 hashes than its allowance', async () => {
    const beforeSignUp = await hashes(slow);
    const victim = await signUp(slow);
    const before = await hashes(slow);
    // The count moves: signing up hashed the password once.
    expect(before).toBe(beforeSignUp + 1);
    const answers = await fire(1000, 20, () => signIn(slow, victim.input.email, 'wrong password'));
    expect(await hashes(slow)).toBe(before + ALLOWANCE);
    const { codes, minRetryAfter } = tally(answers);
    expect(codes).toEqual({ UNAUTHENTICATED: ALLOWANCE, RATE_LIMITED: 1000 - ALLOWANCE });
    expect(minRetryAfter).toBeGreaterThanOrEqual(1);
    // The right password is refused too while blocked: the block is the account's.
    expect(retryAfter(await signIn(slow, victim.input.email, TEST_PASSWORD))).toBeGreaterThan(0);
  });

  it('limits an email without an account exactly like one with an account', async () => {
    const nobody = `nobody.${randomUUID()}@example.com`;
    const before = await hashes(slow);
    const answers = await fire(1000, 20, () => signIn(slow, nobody, 'wrong password'));
    expect(await hashes(slow)).toBe(before + ALLOWANCE);
    const { codes, minRetryAfter } = tally(answers);
    expect(codes).toEqual({ UNAUTHENTICATED: ALLOWANCE, RATE_LIMITED: 1000 - ALLOWANCE });
    expect(minRetryAfter).toBeGreaterThanOrEqual(1);
    const limited = answers.find((a) => a.errors?.[0]?.extensions?.code === 'RATE_LIMITED')!;
    expect(limited.errors![0]!.message).toBe('Too many sign-in attempts.');
  });

  it('limits one client address that tries many accounts', async () => {
    const caller = { ...ANONYMOUS, clientAddress: `198.51.100.${Math.floor(Math.random() * 250)}` };
    const attempt = (email: string) =>
      slow.requestSubgraph('accounts', SIGN_IN, { variables: { email, password: 'x' }, caller });
    const answers = await fire(PER_ADDRESS, 5, (i) => attempt(`spray.${i}.${randomUUID()}@e.com`));
    expect(tally(answers).codes).toEqual({ UNAUTHENTICATED: PER_ADDRESS });
    // A fresh account from the same address: refused by the address' limit.
    expect(retryAfter(await attempt(`fresh.${randomUUID()}@e.com`))).toBeGreaterThan(0);
    // The positive control: the same fresh account from another address is checked.
    const other = { ...ANONYMOUS, clientAddress: '192.0.2.1' };
    const elsewhere = await slow.requestSubgraph('accounts', SIGN_IN, {
      variables: { email: `fresh.${randomUUID()}@e.com`, password: 'x' },
      caller: other,
    });
    expect(elsewhere.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('blocks longer each time, and takes the right password once the block ends', async () => {
    const victim = await signUp(quick);
    const burst = () => fire(ALLOWANCE + 1, 1, () => signIn(quick, victim.input.email, 'wrong'));
    const first = (await burst()).at(-1)!;
    expect(retryAfter(first)).toBe(1);
    // Once the first block ends, the next allowance is spent and the block
    // doubles. One attempt at a time finds the end: a whole burst could
    // straddle it and spend part of the new allowance while still polling.
    await eventually(
      async () =>
        (await signIn(quick, victim.input.email, 'wrong')).errors?.[0]?.extensions?.code ===
        'UNAUTHENTICATED',
      { timeoutMs: 10_000, intervalMs: 100, what: 'the first block to end' },
    );
    const second = await fire(ALLOWANCE, 1, () => signIn(quick, victim.input.email, 'wrong'));
    expect(tally(second.slice(0, -1)).codes).toEqual({ UNAUTHENTICATED: ALLOWANCE - 1 });
    expect(retryAfter(second.at(-1)!)).toBe(2);
    const session = await eventually(
      async () => (await signIn(quick, victim.input.email, TEST_PASSWORD)).data?.signIn,
      { timeoutMs: 10_000, intervalMs: 200, what: 'the second block to end' },
    );
    expect(session.user.id).toBe(victim.user.id);
    // A success starts the account afresh: a full allowance, then the first block again.
    expect(retryAfter((await burst()).at(-1)!)).toBe(1);
  });
});

describe('client-token brute-force limits', () => {
  async function client(h: AccountsHarness, token: string) {
    return ok(
      await h.request<{ createApiClient: { clientId: string; clientSecret: string } }>(
        CREATE_API_CLIENT,
        { variables: { name: 'CI', scopes: ['games:publish'] }, token },
      ),
    ).createApiClient;
  }
  const issue = (h: AccountsHarness, clientId: string, clientSecret: string) =>
    h.request(ISSUE_CLIENT_TOKEN, { variables: { clientId, clientSecret }, headers: fromClient() });

  it('refuses a client after its allowance of wrong secrets, the right one included', async () => {
    const admin = await signUp(slow, { email: ADMIN_EMAIL });
    const { clientId, clientSecret } = await client(slow, admin.accessToken);
    const answers = await fire(200, 10, () => issue(slow, clientId, 'wrong secret'));
    expect(tally(answers).codes).toEqual({ UNAUTHENTICATED: ALLOWANCE, RATE_LIMITED: 190 });
    expect(retryAfter(await issue(slow, clientId, clientSecret))).toBeGreaterThan(0);
    // An unknown client id is limited the same way (from a client whose
    // address has not spent its allowance above).
    newClientAddress();
    const unknown = randomUUID();
    const guesses = await fire(50, 10, () => issue(slow, unknown, 'wrong secret'));
    expect(tally(guesses).codes).toEqual({ UNAUTHENTICATED: ALLOWANCE, RATE_LIMITED: 40 });
  });
});
