import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm, type Options } from '@node-rs/argon2';

// `Algorithm` is an ambient const enum, which isolatedModules cannot inline.
const ARGON2ID = 2 as Algorithm;

/** argon2id cost parameters. */
export interface Argon2Params {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

/** Hashes and verifies passwords with argon2id. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /**
   * Spends the time a real verification would, for an email with no account,
   * so that response times do not reveal which emails have accounts.
   */
  verifyDummy(password: string): Promise<false>;
  /** True when a stored hash was made with other parameters than the current ones. */
  needsRehash(passwordHash: string): boolean;
}

/** A {@link PasswordHasher} with the given cost; one per server. */
export function createPasswordHasher(
  params: Argon2Params,
  /** Called once per argon2 computation (the `accounts_password_hashes_total` metric). */
  onHash: () => void = () => undefined,
): PasswordHasher {
  const options: Options = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKib,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  };
  // Made now with the current parameters so the first unknown-email sign-in
  // costs the same as the others. A random password: nothing can match it.
  const dummyHash = hash(randomBytes(32).toString('base64url'), options);
  dummyHash.catch(() => undefined);

  return {
    hash(password) {
      onHash();
      return hash(password, options);
    },
    async verify(passwordHash, password) {
      onHash();
      try {
        return await verify(passwordHash, password);
      } catch {
        // A malformed stored hash is a failed sign-in, not a crash.
        return false;
      }
    },
    async verifyDummy(password) {
      onHash();
      await verify(await dummyHash, password).catch(() => false);
      return false;
    },
    needsRehash(passwordHash) {
      try {
        const parsed = parseOptions(passwordHash);
        return (
          parsed.algorithm !== ARGON2ID ||
          parsed.memoryCost !== params.memoryKib ||
          parsed.timeCost !== params.timeCost ||
          parsed.parallelism !== params.parallelism
        );
      } catch {
        return true;
      }
    },
  };
}
