import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** Signing material of a deployment: JWT keys (first signs) and router→subgraph secrets (first signs). */
export interface KeyMaterial {
  /** Private Ed25519 JWKs, each with a `kid`. The first signs; all verify, so keys can rotate. */
  readonly jwtKeys: readonly JWK[];
  /** Shared secrets for the router's signed caller header. The first signs; all verify. */
  readonly internalSecrets: readonly string[];
}

/** A fresh Ed25519 JWK with a key id, for a new key or a rotation. */
export async function generateJwtKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return {
    ...jwk,
    kid: `k-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`,
    alg: 'EdDSA',
    use: 'sig',
  };
}

/** The public half of private JWKs, safe to publish as a JWKS. */
export function publicJwks(keys: readonly JWK[]): { keys: JWK[] } {
  return { keys: keys.map(({ d: _d, ...pub }) => pub) };
}

/**
 * Key material from configuration when given (production), otherwise from a
 * local file generated on first use and kept outside git. Two processes that
 * start together agree: the file is created exclusively and the loser reads it.
 */
export async function loadKeyMaterial(options: {
  jwtKeysJson?: string | undefined;
  internalSecrets?: readonly string[] | undefined;
  localFile: string;
}): Promise<KeyMaterial> {
  if (options.jwtKeysJson && options.internalSecrets?.length) {
    const parsed = JSON.parse(options.jwtKeysJson) as { keys?: JWK[] };
    if (!parsed.keys?.length) throw new Error('JWT_KEYS must be a JWKS with at least one key');
    return { jwtKeys: parsed.keys, internalSecrets: options.internalSecrets };
  }
  try {
    return JSON.parse(await readFile(options.localFile, 'utf8')) as KeyMaterial;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const material: KeyMaterial = {
    jwtKeys: [await generateJwtKey()],
    internalSecrets: [randomBytes(32).toString('base64url')],
  };
  await mkdir(dirname(options.localFile), { recursive: true });
  try {
    await writeFile(options.localFile, JSON.stringify(material, null, 2), {
      flag: 'wx',
      mode: 0o600,
    });
    return material;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return JSON.parse(await readFile(options.localFile, 'utf8')) as KeyMaterial;
  }
}
