import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { isUuid } from './validation.js';

/** An opaque credential as handed out: `<id>.<secret>`, and the hash that is stored. */
export interface IssuedSecret {
  readonly id: string;
  readonly secret: string;
  readonly secretHash: string;
}

// 32 random bytes in base64url, no padding.
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * SHA-256 of a secret, hex. The secrets are 256 random bits, so a fast hash
 * is enough: there is nothing to brute-force, unlike a password.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A fresh 256-bit secret, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A new refresh token (`<id>.<secret>`) with the hash to store. */
export function newRefreshToken(): IssuedSecret & { token: string } {
  const id = randomUUID();
  const secret = newSecret();
  return { id, secret, secretHash: hashSecret(secret), token: `${id}.${secret}` };
}

/** The id and secret of a refresh token, or null when it cannot be one of ours. */
export function parseRefreshToken(token: string): { id: string; secret: string } | null {
  const dot = token.indexOf('.');
  if (dot < 0) return null;
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  return isUuid(id) && SECRET.test(secret) ? { id, secret } : null;
}

/** True when `secret` hashes to `storedHash`, compared in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
