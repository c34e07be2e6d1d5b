import { createHash } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { ErrorCode, UserError } from '@arcadia/errors';
import { isRole, type Caller } from './caller.js';

/** Header in which the router passes the verified caller to subgraphs. */
export const CALLER_HEADER = 'x-arcadia-caller';

// The signature is short-lived: a captured header is useless within a minute.
const TTL_SECONDS = 60;
const ISSUER = 'arcadia-router';

function secretKey(secret: string) {
  return {
    kid: createHash('sha256').update(secret).digest('base64url').slice(0, 12),
    // Imported once: given raw bytes, jose would import the key again on every call.
    key: crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ),
  };
}

/** Signs the caller for subgraph requests with the first internal secret. */
export function createCallerSigner(secrets: readonly string[]) {
  if (!secrets[0]) throw new Error('at least one internal secret is required');
  const { kid, key } = secretKey(secrets[0]);
  return async (caller: Caller): Promise<string> =>
    new SignJWT({
      roles: [...caller.roles],
      scopes: [...caller.scopes],
      ...(caller.clientId ? { cid: caller.clientId } : {}),
      ...(caller.sessionId ? { sid: caller.sessionId } : {}),
      ...(caller.name ? { name: caller.name } : {}),
      ...(caller.clientAddress ? { ip: caller.clientAddress } : {}),
    })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(ISSUER)
      .setSubject(caller.userId ?? '')
      .setIssuedAt()
      .setExpirationTime(`${TTL_SECONDS}s`)
      .sign(await key);
}

/**
 * Verifies the router's signed caller header. Any secret of the list
 * verifies, so the router can move to a new one without downtime.
 */
export function createCallerVerifier(secrets: readonly string[]) {
  const keys = new Map(
    secrets.map((s) => {
      const { kid, key } = secretKey(s);
      return [kid, key] as const;
    }),
  );
  return async (header: string | undefined | null): Promise<Caller> => {
    if (!header) {
      throw new UserError(
        ErrorCode.UNAUTHENTICATED,
        'Requests must come through the router.',
        {
          reason: 'UNSIGNED',
        },
        { httpStatus: 401 },
      );
    }
    try {
      const { payload } = await jwtVerify(
        header,
        (protectedHeader) => {
          const key = protectedHeader.kid ? keys.get(protectedHeader.kid) : undefined;
          if (!key) throw new Error('unknown key');
          return key;
        },
        { issuer: ISSUER, algorithms: ['HS256'] },
      );
      const roles = Array.isArray(payload.roles) ? payload.roles.filter(isRole) : [];
      const scopes = Array.isArray(payload.scopes)
        ? payload.scopes.filter((s): s is string => typeof s === 'string')
        : [];
      return {
        userId: payload.sub || null,
        roles,
        scopes,
        ...(typeof payload.cid === 'string' ? { clientId: payload.cid } : {}),
        ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}),
        ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
        ...(typeof payload.ip === 'string' ? { clientAddress: payload.ip } : {}),
      };
    } catch {
      throw new UserError(
        ErrorCode.UNAUTHENTICATED,
        'The request signature is invalid.',
        {
          reason: 'BAD_SIGNATURE',
        },
        { httpStatus: 401 },
      );
    }
  };
}
