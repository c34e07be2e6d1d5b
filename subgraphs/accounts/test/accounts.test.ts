import { describe, expect, it } from 'vitest';
import { ANONYMOUS, generateJwtKey, createTokenSigner } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createAccounts } from '../src/accounts.js';
import type { PasswordHasher } from '../src/passwords.js';
import type { CredentialLimiter } from '../src/sign-in-limits.js';
import type { AccountsRepository } from '../src/store.js';

/** A password hasher that records which verification ran. */
function recordingHasher(calls: string[]): PasswordHasher {
  return {
    hash: async () => 'hash',
    verify: async () => {
      calls.push('verify');
      return false;
    },
    verifyDummy: async () => {
      calls.push('verifyDummy');
      return false;
    },
    needsRehash: () => false,
  };
}

// Limits are not what these tests are about (sign-in-limits.int.test.ts is).
const unlimited: CredentialLimiter = {
  attempt: async () => undefined,
  succeeded: async () => undefined,
};

async function accountsWith(repo: Partial<AccountsRepository>, calls: string[]) {
  return createAccounts({
    config: {
      ADMIN_EMAILS: [],
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_DAYS: 30,
      REFRESH_REUSE_INTERVAL_SECONDS: 30,
    },
    passwords: recordingHasher(calls),
    limits: { signIn: unlimited, clientToken: unlimited },
    sessions: { revoke: async () => undefined },
    tokenSigner: createTokenSigner([await generateJwtKey()]),
    repo: repo as AccountsRepository,
    caller: ANONYMOUS,
    logger: createLogger('accounts', 'silent'),
  });
}

describe('sign-in timing', () => {
  it('spends a password verification on an unknown email, like on a known one', async () => {
    const calls: string[] = [];
    const accounts = await accountsWith({ credentialsByEmail: async () => null }, calls);
    await expect(accounts.signIn('nobody@example.com', 'whatever password')).rejects.toMatchObject({
      message: 'Invalid email or password.',
    });
    expect(calls).toEqual(['verifyDummy']);
  });

  it('does not look up an email with an over-long password, but still spends the verification', async () => {
    const calls: string[] = [];
    const lookups: string[] = [];
    const accounts = await accountsWith(
      {
        credentialsByEmail: async (email) => {
          lookups.push(email);
          return null;
        },
      },
      calls,
    );
    await expect(accounts.signIn('a@example.com', 'p'.repeat(10_000))).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(lookups).toEqual([]);
    expect(calls).toEqual(['verifyDummy']);
  });
});
