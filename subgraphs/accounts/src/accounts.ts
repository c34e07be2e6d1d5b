/**
 * The accounts use cases (sign-up, sessions, roles, partner clients) for one
 * request. Resolvers translate GraphQL to these calls and nothing more.
 */
import { randomUUID } from 'node:crypto';
import type { Caller, createTokenSigner, Role } from '@arcadia/auth';
import { ErrorCode, userError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import type { AccountsConfig } from './env.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionRevoker } from './session-revocations.js';
import type { SignInLimits } from './sign-in-limits.js';
import {
  hashSecret,
  newRefreshToken,
  newSecret,
  openForToken,
  parseRefreshToken,
  sealForToken,
  secretMatches,
} from './secrets.js';
import {
  UniqueViolation,
  type AccountsRepository,
  type ApiClientRow,
  type UserRow,
} from './store.js';
import { apiClientSchema, isUuid, parseInput, signUpSchema } from './validation.js';

/** What `AuthPayload` resolves from. */
export interface AuthPayloadModel {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: Date;
  readonly user: UserRow;
}

/** The successor pair as sealed for a spent refresh token's reuse interval. */
interface SealedPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: string;
}

/** What `ApiClientSecret` resolves from. */
export interface ApiClientSecretModel {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: Date;
}

/** Built once per server and shared by every request. */
export interface AccountsDeps {
  readonly config: Pick<
    AccountsConfig,
    | 'ADMIN_EMAILS'
    | 'ACCESS_TOKEN_TTL_SECONDS'
    | 'REFRESH_TOKEN_TTL_DAYS'
    | 'REFRESH_REUSE_INTERVAL_SECONDS'
  >;
  readonly passwords: PasswordHasher;
  readonly limits: SignInLimits;
  /** Ends a revoked session's access tokens at every router, not only its refresh tokens. */
  readonly sessions: SessionRevoker;
  readonly tokenSigner: ReturnType<typeof createTokenSigner>;
}

/** The use cases of one request. */
export type Accounts = ReturnType<typeof createAccounts>;

// One message for every failed sign-in, so the answer does not tell whether
// an email has an account.
const INVALID_CREDENTIALS = 'Invalid email or password.';
const INVALID_REFRESH = 'The refresh token is invalid, expired or already used.';
const INVALID_CLIENT = 'Invalid client id or secret.';
// Longer than any password sign-up accepts; capped so nobody makes us hash megabytes.
const MAX_PASSWORD = 256;
// Compared against when the client id is unknown, so both paths hash once.
const NO_CLIENT_HASH = hashSecret('no such client');

const holds = (roles: readonly Role[], role: Role) =>
  roles.includes(role) || roles.includes('ADMIN');

/** The use cases for one request by `caller`, over that request's repository. */
export function createAccounts(
  deps: AccountsDeps & { repo: AccountsRepository; caller: Caller; logger: Logger },
) {
  const { config, passwords, limits, sessions, tokenSigner, repo, caller, logger } = deps;
  const adminEmails = new Set(config.ADMIN_EMAILS);
  const isAdminEmail = (email: string) => adminEmails.has(email.toLowerCase());
  // Whoever proves to be a user within this request (sign-up, sign-in,
  // refresh) may read that user's private fields in the answer, although the
  // request itself came in anonymous.
  let provenUserId: string | null = null;

  function requireUser(): string {
    if (!caller.userId) throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in first.');
    return caller.userId;
  }

  function requireInteractiveSession(): void {
    if (caller.clientId) {
      throw userError(ErrorCode.FORBIDDEN, 'API client tokens cannot manage API clients.');
    }
  }

  /** Roles a client's token carries: at most PARTNER, never the owner's others. */
  function clientRoles(owner: UserRow): Role[] {
    if (!holds(owner.roles, 'PARTNER')) {
      throw userError(ErrorCode.FORBIDDEN, "The client's owner no longer holds the PARTNER role.");
    }
    return ['PARTNER'];
  }

  async function accessToken(user: UserRow, familyId: string, client: ApiClientRow | null) {
    return tokenSigner.sign(
      {
        userId: user.id,
        roles: client ? clientRoles(user) : [...user.roles],
        scopes: client ? [...client.scopes] : [],
        sessionId: familyId,
        name: user.displayName,
        ...(client ? { clientId: client.id } : {}),
      },
      config.ACCESS_TOKEN_TTL_SECONDS,
    );
  }

  async function issueRefreshToken(
    tx: AccountsRepository,
    familyId: string,
    parentId: string | null,
  ) {
    const refresh = newRefreshToken();
    await tx.insertRefreshToken({
      id: refresh.id,
      familyId,
      parentId,
      secretHash: refresh.secretHash,
      expiresAt: new Date(Date.now() + config.REFRESH_TOKEN_TTL_DAYS * 86_400_000),
    });
    return refresh.token;
  }

  /** The client a family was issued through, or UNAUTHENTICATED when it no longer may refresh. */
  async function familyClient(tx: AccountsRepository, clientId: string | null) {
    if (!clientId) return null;
    const client = await tx.apiClientById(clientId);
    if (!client || client.revokedAt) throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
    return client;
  }

  /** A new session (refresh-token family) for `user`, through `client` when given. */
  async function startSession(tx: AccountsRepository, user: UserRow, client: ApiClientRow | null) {
    const familyId = randomUUID();
    // Signed first: a refused client token must not leave a family behind.
    const { token, expiresAt } = await accessToken(user, familyId, client);
    await tx.insertRefreshFamily({ id: familyId, userId: user.id, clientId: client?.id ?? null });
    const refreshToken = await issueRefreshToken(tx, familyId, null);
    provenUserId = user.id;
    return { accessToken: token, refreshToken, expiresAt, user } satisfies AuthPayloadModel;
  }

  async function userById(id: string): Promise<UserRow | null> {
    const [user] = await repo.usersByIds([id]);
    return user ?? null;
  }

  return {
    /**
     * Whether the caller may read `userId`'s private fields (email): the
     * user themself, or an ADMIN.
     */
    mayReadPrivateFields(userId: string): boolean {
      return caller.userId === userId || provenUserId === userId || caller.roles.includes('ADMIN');
    },

    /** The user with this handle, regardless of case. */
    userByHandle: (handle: string) => repo.userByHandle(handle),

    /** Creates an account and its first session; CONFLICT when the handle or email is taken. */
    async signUp(input: unknown): Promise<AuthPayloadModel> {
      const data = parseInput(signUpSchema, input);
      const passwordHash = await passwords.hash(data.password);
      const roles: Role[] = isAdminEmail(data.email) ? ['USER', 'ADMIN'] : ['USER'];
      try {
        return await repo.transaction(async (tx) => {
          const user = await tx.insertUser({
            id: randomUUID(),
            handle: data.handle,
            email: data.email,
            displayName: data.displayName,
            passwordHash,
            roles,
          });
          return startSession(tx, user, null);
        });
      } catch (error) {
        if (!(error instanceof UniqueViolation)) throw error;
        throw userError(
          ErrorCode.CONFLICT,
          error.field === 'handle'
            ? 'That handle is already taken.'
            : 'An account with that email already exists.',
          { field: error.field },
        );
      }
    },

    /** Email and password; the same UNAUTHENTICATED for an unknown email and a wrong password. */
    async signIn(email: string, password: string): Promise<AuthPayloadModel> {
      // Counted before anything is hashed, by the email as given (trimmed,
      // case-folded) whether or not it has an account: blocked attempts cost
      // no argon2, and an unknown email is limited like a known one.
      const account = email.trim().toLowerCase().slice(0, 255);
      await limits.signIn.attempt(account, caller.clientAddress);
      const candidate = password.slice(0, MAX_PASSWORD + 1);
      const found =
        password.length <= MAX_PASSWORD && email.length <= 254
          ? await repo.credentialsByEmail(email.trim())
          : null;
      if (!found) {
        await passwords.verifyDummy(candidate);
        throw userError(ErrorCode.UNAUTHENTICATED, INVALID_CREDENTIALS);
      }
      if (!(await passwords.verify(found.passwordHash, password))) {
        throw userError(ErrorCode.UNAUTHENTICATED, INVALID_CREDENTIALS);
      }
      await limits.signIn.succeeded(account, caller.clientAddress);
      let user = found.user;
      if (isAdminEmail(user.email) && !user.roles.includes('ADMIN')) {
        user = (await repo.addRole(user.id, 'ADMIN')) ?? user;
        logger.info({ userId: user.id }, 'ADMIN granted from ADMIN_EMAILS at sign-in');
      }
      if (passwords.needsRehash(found.passwordHash)) {
        // The cost parameters changed since this hash was made; the password
        // is at hand only now, so upgrade it now.
        await repo.setPasswordHash(user.id, await passwords.hash(password));
      }
      return repo.transaction((tx) => startSession(tx, user, null));
    },

    /**
     * Rotates a refresh token. A token works once: presenting a spent one
     * means it was copied, so the whole family is revoked. Except within
     * `REFRESH_REUSE_INTERVAL_SECONDS` of its first use, when the duplicate
     * gets the very pair the first use got (two tabs refreshing at once).
     */
    async refreshSession(refreshToken: string): Promise<AuthPayloadModel> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
      const interval = config.REFRESH_REUSE_INTERVAL_SECONDS;

      const outcome = await repo.transaction(async (tx) => {
        // The row lock decides between concurrent refreshes of the same token:
        // the second waits here until the first commits, then finds the token
        // spent and its successor sealed.
        const found = await tx.lockRefreshToken(parsed.id, interval);
        if (!found || !secretMatches(parsed.secret, found.secretHash)) {
          throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
        }
        const { family } = found;
        if (family.revokedAt || found.revokedAt || found.expiresAt.getTime() <= Date.now()) {
          throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
        }
        const [user] = await tx.usersByIds([family.userId]);
        if (!user) throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
        const client = await familyClient(tx, family.clientId);

        if (found.usedAt) {
          if (!found.withinReuseInterval || !found.successorSealed) {
            // Committed with this transaction, which returns rather than throws.
            await tx.revokeRefreshFamily(family.id);
            logger.warn(
              { familyId: family.id, userId: family.userId },
              'refresh token reused; session revoked',
            );
            return { reusedFamilyId: family.id };
          }
          const pair = JSON.parse(
            openForToken(parsed.secret, found.id, found.successorSealed),
          ) as SealedPair;
          provenUserId = user.id;
          return { ...pair, expiresAt: new Date(pair.expiresAt), user };
        }

        const { token, expiresAt } = await accessToken(user, family.id, client);
        const next = await issueRefreshToken(tx, family.id, found.id);
        // Nothing to keep when there is no reuse interval.
        const sealed =
          interval > 0
            ? sealForToken(
                parsed.secret,
                found.id,
                JSON.stringify({
                  accessToken: token,
                  refreshToken: next,
                  expiresAt: expiresAt.toISOString(),
                } satisfies SealedPair),
              )
            : null;
        if (!(await tx.markRefreshTokenUsed(found.id, sealed))) {
          // Cannot happen under the row lock; refuse rather than hand out a second successor.
          throw new Error('refresh token spent while locked');
        }
        await tx.forgetSealedSuccessors(family.id, interval);
        provenUserId = user.id;
        return { accessToken: token, refreshToken: next, expiresAt, user };
      });
      if (outcome.reusedFamilyId !== undefined) {
        const familyId = outcome.reusedFamilyId;
        // Whoever holds the copied token may hold its access tokens too: they
        // end now, not when they expire. The family is revoked already, so
        // a failure here only leaves those tokens their remaining minutes.
        await sessions.revoke(familyId).catch((error: unknown) => {
          logger.error({ err: error, familyId }, "could not end a reused session's access tokens");
        });
        throw userError(ErrorCode.UNAUTHENTICATED, INVALID_REFRESH);
      }
      return outcome satisfies AuthPayloadModel;
    },

    /** Revokes the caller's session (refresh-token family). */
    async signOut(): Promise<boolean> {
      const userId = requireUser();
      if (caller.sessionId && isUuid(caller.sessionId)) {
        await repo.revokeRefreshFamily(caller.sessionId, userId);
        // Until routers know, the session's access tokens still work: say so
        // rather than report a sign-out that did not happen. Retrying is safe.
        await sessions.revoke(caller.sessionId).catch((error: unknown) => {
          logger.error({ err: error, familyId: caller.sessionId }, 'could not end a session');
          throw userError(
            ErrorCode.SERVICE_UNAVAILABLE,
            'Signing out did not complete; try again.',
          );
        });
      }
      return true;
    },

    /** Grants `role` to a user; ADMIN only. */
    async grantRole(userId: string, role: Role): Promise<UserRow> {
      const actorId = requireUser();
      if (!caller.roles.includes('ADMIN')) {
        throw userError(ErrorCode.FORBIDDEN, 'Only an ADMIN can grant roles.');
      }
      const user = isUuid(userId) ? await repo.addRole(userId, role) : null;
      if (!user) throw userError(ErrorCode.NOT_FOUND, 'No user with that id.', { field: 'userId' });
      logger.info({ actorId, userId, role }, 'role granted');
      return user;
    },

    /** A new API client of the calling PARTNER; the secret is returned once and only its hash kept. */
    async createApiClient(name: string, scopes: readonly string[]): Promise<ApiClientSecretModel> {
      const userId = requireUser();
      requireInteractiveSession();
      if (!holds(caller.roles, 'PARTNER')) {
        throw userError(ErrorCode.FORBIDDEN, 'Only a PARTNER can create API clients.');
      }
      const data = parseInput(apiClientSchema, { name, scopes });
      const clientSecret = newSecret();
      const client = await repo.insertApiClient({
        id: randomUUID(),
        userId,
        name: data.name,
        scopes: data.scopes,
        secretHash: hashSecret(clientSecret),
      });
      logger.info({ userId, clientId: client.id }, 'API client created');
      return {
        clientId: client.id,
        clientSecret,
        name: client.name,
        scopes: client.scopes,
        createdAt: client.createdAt,
      };
    },

    /** Client-credentials sign-in: a session of the client's owner, with its scopes and at most PARTNER. */
    async issueClientToken(clientId: string, clientSecret: string): Promise<AuthPayloadModel> {
      await limits.clientToken.attempt(clientId.slice(0, 64), caller.clientAddress);
      const client = isUuid(clientId) ? await repo.apiClientById(clientId) : null;
      const matches = secretMatches(clientSecret, client?.secretHash ?? NO_CLIENT_HASH);
      if (!client || !matches || client.revokedAt) {
        throw userError(ErrorCode.UNAUTHENTICATED, INVALID_CLIENT);
      }
      await limits.clientToken.succeeded(clientId.slice(0, 64), caller.clientAddress);
      const owner = await userById(client.userId);
      if (!owner) throw userError(ErrorCode.UNAUTHENTICATED, INVALID_CLIENT);
      return repo.transaction((tx) => startSession(tx, owner, client));
    },

    /** Revokes an API client; its owner or an ADMIN. False when it was revoked already. */
    async revokeApiClient(clientId: string): Promise<boolean> {
      const userId = requireUser();
      requireInteractiveSession();
      const isAdmin = caller.roles.includes('ADMIN');
      const client = isUuid(clientId) ? await repo.apiClientById(clientId) : null;
      // Someone else's client is reported as missing: its id is no business of the caller's.
      if (!client || (!isAdmin && client.userId !== userId)) {
        throw userError(ErrorCode.NOT_FOUND, 'No API client with that id.', { field: 'clientId' });
      }
      const revoked = await repo.revokeApiClient(client.id, isAdmin ? null : userId);
      if (revoked) logger.info({ userId, clientId }, 'API client revoked');
      return revoked;
    },
  };
}
