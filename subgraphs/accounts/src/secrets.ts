import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
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

// Sealing a spent refresh token's successor, for the reuse interval.
//
// Decision: seal (encrypt) the successor rather than derive it from the old
// token with a server secret. The key comes from the presented token's secret,
// which is stored only hashed, so a copy of the database alone opens nothing,
// and there is no extra server secret to provision and rotate. The sealed
// value holds the whole pair (access and refresh token), so a duplicate gets
// exactly what the first request got, and it is cleared after the interval.
const SEAL_INFO = 'arcadia refresh-token successor v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function sealKey(secret: string, tokenId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, tokenId, SEAL_INFO, 32));
}

/**
 * Encrypts `plaintext` (AES-256-GCM) with a key derived (HKDF-SHA256) from the
 * refresh token `tokenId`.`secret`; base64url of IV, tag and ciphertext.
 */
export function sealForToken(secret: string, tokenId: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret, tokenId), iv);
  // The token id is bound as associated data: a sealed value moved to another row does not open.
  cipher.setAAD(Buffer.from(tokenId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/**
 * Opens what {@link sealForToken} sealed. Throws when it was not sealed for
 * this token: the caller has already matched the token's hash, so that means
 * a corrupted or tampered row, not a wrong guess.
 */
export function openForToken(secret: string, tokenId: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    sealKey(secret, tokenId),
    raw.subarray(0, IV_BYTES),
  );
  decipher.setAAD(Buffer.from(tokenId));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}
