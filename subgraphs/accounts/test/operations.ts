/** Operations and helpers the accounts tests share. */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startSubgraphHarness, type GraphQLResponse, type SubgraphHarness } from '@arcadia/testing';
import { accountsSubgraph, TEST_PASSWORD, type AccountsUnderTest } from '../src/testing.js';

/** Accounts behind the router, on a database of the test file's own. */
export type AccountsHarness = SubgraphHarness<AccountsUnderTest>;

/** Starts accounts and a router; `env` overrides variables (ADMIN_EMAILS, TTLs, …). */
export function startAccounts(
  env: Record<string, string> = {},
  routerEnv: Record<string, string> = {},
): Promise<AccountsHarness> {
  return startSubgraphHarness({ subject: accountsSubgraph(env), routerEnv });
}

export const USER_FIELDS = 'id handle displayName roles createdAt email';
const PAYLOAD = `accessToken refreshToken expiresAt user { ${USER_FIELDS} }`;

export const SIGN_UP = `mutation ($input: SignUpInput!) { signUp(input: $input) { ${PAYLOAD} } }`;
export const SIGN_IN = `mutation ($email: String!, $password: String!) { signIn(email: $email, password: $password) { ${PAYLOAD} } }`;
export const REFRESH = `mutation ($t: String!) { refreshSession(refreshToken: $t) { ${PAYLOAD} } }`;
export const SIGN_OUT = 'mutation { signOut }';
export const ME = `{ me { ${USER_FIELDS} } }`;
export const GRANT_ROLE = `mutation ($userId: ID!, $role: Role!) { grantRole(userId: $userId, role: $role) { ${USER_FIELDS} } }`;
export const CREATE_API_CLIENT = `mutation ($name: String!, $scopes: [String!]!) {
  createApiClient(name: $name, scopes: $scopes) { clientId clientSecret name scopes createdAt } }`;
export const ISSUE_CLIENT_TOKEN = `mutation ($clientId: ID!, $clientSecret: String!) {
  issueClientToken(clientId: $clientId, clientSecret: $clientSecret) { ${PAYLOAD} } }`;
export const REVOKE_API_CLIENT =
  'mutation ($clientId: ID!) { revokeApiClient(clientId: $clientId) }';

/** A user as the tests ask for it. */
export interface UserData {
  id: string;
  handle: string;
  displayName: string;
  roles: string[];
  createdAt: string;
  email: string | null;
}

/** An AuthPayload as the tests ask for it. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: UserData;
}

/** Sign-up input no other test uses; `overrides` replace fields. */
export function newAccount(
  overrides: Partial<Record<'handle' | 'email' | 'password' | 'displayName', string>> = {},
) {
  const tag = randomBytes(4).toString('hex');
  return {
    handle: `user_${tag}`,
    email: `user.${tag}@example.com`,
    password: TEST_PASSWORD,
    displayName: `User ${tag}`,
    ...overrides,
  };
}

/** The data of a response that must have succeeded. */
export function ok<T>(response: GraphQLResponse<T>): T {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return response.data!;
}

/** The single error of a response that must have failed. */
export function failure(response: GraphQLResponse) {
  expect(response.errors, 'expected an error').toBeDefined();
  return response.errors![0]!;
}

/** Signs up a new account and returns its session. */
export async function signUp(h: AccountsHarness, overrides: Parameters<typeof newAccount>[0] = {}) {
  const input = newAccount(overrides);
  const { signUp: session } = ok(
    await h.request<{ signUp: Session }>(SIGN_UP, { variables: { input } }),
  );
  return { ...session, input };
}

/** The claims of a JWT, unverified (the tests only read what was signed). */
export function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}
