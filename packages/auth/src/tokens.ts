import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { ErrorCode, UserError } from '@arcadia/errors';
import { isRole, type Caller } from './caller.js';
import { publicJwks } from './keys.js';

const ISSUER = 'arcadia';
const AUDIENCE = 'arcadia';
const ALGORITHMS = ['EdDSA'];

/** Claims an access token carries beyond the registered ones. */
interface AccessClaims {
  roles: string[];
  scope?: string;
  cid?: string;
  sid?: string;
  name?: string;
}

/** Signs access tokens with the first key; the `kid` header lets verifiers pick the key. */
export function createTokenSigner(keys: readonly JWK[]) {
  const signingJwk = keys[0];
  if (!signingJwk?.kid) throw new Error('the signing key needs a kid');
  const keyPromise = importJWK(signingJwk, 'EdDSA');
  return {
    /** Signs an access token for `caller`, valid for `ttlSeconds`. */
    async sign(caller: Caller & { userId: string }, ttlSeconds: number) {
      const now = Math.floor(Date.now() / 1000);
      const claims: AccessClaims = { roles: [...caller.roles] };
      if (caller.scopes.length) claims.scope = caller.scopes.join(' ');
      if (caller.clientId) claims.cid = caller.clientId;
      if (caller.sessionId) claims.sid = caller.sessionId;
      if (caller.name) claims.name = caller.name;
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'EdDSA', kid: signingJwk.kid!, typ: 'JWT' })
        .setSubject(caller.userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(await keyPromise);
      return { token, expiresAt: new Date((now + ttlSeconds) * 1000) };
    },
    /** The JWKS verifiers need. */
    jwks: publicJwks(keys),
  };
}

/** Verifies bearer tokens against a local JWKS or a remote JWKS URL. */
export function createTokenVerifier(source: { jwks: { keys: JWK[] } } | { jwksUrl: string }) {
  const getKey: JWTVerifyGetKey =
    'jwks' in source ? createLocalJWKSet(source.jwks) : createRemoteJWKSet(new URL(source.jwksUrl));
  return {
    /**
     * The caller a token stands for. Anything wrong with it (expired, unknown
     * key, `alg: none`, a symmetric algorithm, garbage) is UNAUTHENTICATED.
     */
    async verify(token: string): Promise<Caller & { userId: string; expiresAt: Date }> {
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ALGORITHMS,
          requiredClaims: ['sub', 'exp'],
        });
        const roles = Array.isArray(payload.roles) ? payload.roles.filter(isRole) : [];
        const scope = typeof payload.scope === 'string' ? payload.scope : '';
        return {
          userId: payload.sub!,
          roles,
          scopes: scope ? scope.split(' ') : [],
          ...(typeof payload.cid === 'string' ? { clientId: payload.cid } : {}),
          ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}),
          ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
          expiresAt: new Date(payload.exp! * 1000),
        };
      } catch (error) {
        const expired = error instanceof joseErrors.JWTExpired;
        throw new UserError(
          ErrorCode.UNAUTHENTICATED,
          expired ? 'The access token has expired.' : 'The access token is invalid.',
          { reason: expired ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID' },
          { httpStatus: 401 },
        );
      }
    },
  };
}

/** The token of an `Authorization: Bearer …` header, or null when there is none. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new UserError(
      ErrorCode.UNAUTHENTICATED,
      'The Authorization header must be "Bearer <token>".',
      { reason: 'TOKEN_INVALID' },
      { httpStatus: 401 },
    );
  }
  return match[1]!;
}
