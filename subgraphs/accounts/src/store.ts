/**
 * The accounts store: the only module that talks to PostgreSQL. Everything
 * else sees repository functions and plain rows.
 */
import type { EntityManager, QueryResult } from '@mikro-orm/postgresql';
import { defineStore, type SessionStore } from '@arcadia/postgres';
import { isRole, type Role } from '@arcadia/auth';
import { migrationsList } from './migrations/index.js';

// ---------------------------------------------------------------- rows

/** A user as the rest of the subgraph sees it; the password hash stays in here. */
export interface UserRow {
  readonly id: string;
  readonly handle: string;
  readonly email: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  readonly createdAt: Date;
}

/** A partner API client. */
export interface ApiClientRow {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly secretHash: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** One sign-in: the refresh tokens rotated from it share it. */
export interface RefreshFamilyRow {
  readonly id: string;
  readonly userId: string;
  readonly clientId: string | null;
  readonly revokedAt: Date | null;
}

/** A refresh token with its family. */
export interface RefreshTokenRow {
  readonly id: string;
  readonly familyId: string;
  readonly parentId: string | null;
  readonly secretHash: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly family: RefreshFamilyRow;
  /** The successor pair, sealed with a key only this token's holder has; kept for the reuse interval. */
  readonly successorSealed: string | null;
  /** Spent less than the reuse interval ago (by the database's clock). */
  readonly withinReuseInterval: boolean;
}

/** Raised when a handle or email is already taken (by the unique index, not a pre-check). */
export class UniqueViolation extends Error {
  constructor(readonly field: 'handle' | 'email') {
    super(`${field} is taken`);
    this.name = 'UniqueViolation';
  }
}

// ------------------------------------------------------------ raw rows

// Rows as the driver hands them over: snake_case columns, timestamps as text
// (MikroORM's pg type parsers leave them unparsed).
// The tables are created by the hand-written migrations.

interface RawUser {
  id: string;
  handle: string;
  email: string;
  display_name: string;
  password_hash: string;
  roles: string[];
  created_at: string;
}

interface RawApiClient {
  id: string;
  user_id: string;
  name: string;
  scopes: string[];
  secret_hash: string;
  created_at: string;
  revoked_at: string | null;
}

/** A refresh token joined with its family, whose columns carry a `family_` prefix. */
interface RawRefreshToken {
  id: string;
  family_id: string;
  parent_id: string | null;
  secret_hash: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
  successor_sealed: string | null;
  within_reuse_interval: boolean;
  family_user_id: string;
  family_client_id: string | null;
  family_revoked_at: string | null;
}

const date = (value: string) => new Date(value);
const dateOrNull = (value: string | null) => (value === null ? null : new Date(value));

// The unique expression indexes of the migration, by the field they guard.
const uniqueIndexFields: Record<string, 'handle' | 'email'> = {
  users_handle_lower_key: 'handle',
  users_email_lower_key: 'email',
};

/** The field whose unique index `error` violated, if it is PostgreSQL's 23505 on one of ours. */
function uniqueViolationField(error: unknown): 'handle' | 'email' | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== '23505' || typeof constraint !== 'string') return undefined;
  return uniqueIndexFields[constraint];
}

function toUserRow(r: RawUser): UserRow {
  return {
    id: r.id,
    handle: r.handle,
    email: r.email,
    displayName: r.display_name,
    roles: r.roles.filter(isRole),
    createdAt: date(r.created_at),
  };
}

function toApiClientRow(r: RawApiClient): ApiClientRow {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    scopes: [...r.scopes],
    secretHash: r.secret_hash,
    createdAt: date(r.created_at),
    revokedAt: dateOrNull(r.revoked_at),
  };
}

function toRefreshTokenRow(r: RawRefreshToken): RefreshTokenRow {
  return {
    id: r.id,
    familyId: r.family_id,
    parentId: r.parent_id,
    secretHash: r.secret_hash,
    expiresAt: date(r.expires_at),
    usedAt: dateOrNull(r.used_at),
    revokedAt: dateOrNull(r.revoked_at),
    successorSealed: r.successor_sealed,
    withinReuseInterval: r.within_reuse_interval,
    family: {
      id: r.family_id,
      userId: r.family_user_id,
      clientId: r.family_client_id,
      revokedAt: dateOrNull(r.family_revoked_at),
    },
  };
}

// ----------------------------------------------------------- repository

/** What a new account is made of; the password already hashed. */
export interface NewUser {
  id: string;
  handle: string;
  email: string;
  displayName: string;
  passwordHash: string;
  roles: readonly Role[];
}

/**
 * Reads and writes of one request (or one transaction), over its own forked
 * EntityManager. Ids that are not UUIDs must be filtered out by the caller.
 */
export interface AccountsRepository {
  /** Users in the order of `ids`, null where there is none. */
  usersByIds(ids: readonly string[]): Promise<(UserRow | null)[]>;
  /** The user with this handle, regardless of case. */
  userByHandle(handle: string): Promise<UserRow | null>;
  /** The user with this email, regardless of case. */
  userByEmail(email: string): Promise<UserRow | null>;
  /** The user with this email and their password hash, for sign-in. */
  credentialsByEmail(email: string): Promise<{ user: UserRow; passwordHash: string } | null>;
  /** Creates a user; throws {@link UniqueViolation} when the handle or email is taken. */
  insertUser(user: NewUser): Promise<UserRow>;
  setPasswordHash(userId: string, passwordHash: string): Promise<void>;
  /** Adds a role unless held already (atomically, so concurrent grants do not lose one); null when there is no such user. */
  addRole(userId: string, role: Role): Promise<UserRow | null>;

  insertApiClient(client: Omit<ApiClientRow, 'createdAt' | 'revokedAt'>): Promise<ApiClientRow>;
  apiClientById(id: string): Promise<ApiClientRow | null>;
  /** Revokes a client, only if owned by `ownerId` when given; true when it was active. */
  revokeApiClient(id: string, ownerId: string | null): Promise<boolean>;

  insertRefreshFamily(family: {
    id: string;
    userId: string;
    clientId: string | null;
  }): Promise<void>;
  insertRefreshToken(token: {
    id: string;
    familyId: string;
    parentId: string | null;
    secretHash: string;
    expiresAt: Date;
  }): Promise<void>;
  /**
   * A refresh token with its family, its row locked until the transaction
   * ends (`select … for update`): concurrent refreshes of the same token are
   * decided one after the other, each seeing what the one before committed.
   * Call it inside {@link AccountsRepository.transaction}.
   */
  lockRefreshToken(id: string, reuseIntervalSeconds: number): Promise<RefreshTokenRow | null>;
  /**
   * Marks an unused token used and keeps its sealed successor. Conditional on
   * `used_at IS NULL`; false when it was spent already.
   */
  markRefreshTokenUsed(id: string, successorSealed: string | null): Promise<boolean>;
  /** Drops the sealed successors of a family's tokens spent longer than the interval ago. */
  forgetSealedSuccessors(familyId: string, reuseIntervalSeconds: number): Promise<void>;
  /** Revokes a family and its tokens, only if it belongs to `userId` when given; true when it was active. */
  revokeRefreshFamily(familyId: string, userId?: string): Promise<boolean>;

  /** Runs `fn` in a transaction: all of its writes happen, or none. */
  transaction<T>(fn: (repo: AccountsRepository) => Promise<T>): Promise<T>;
}

function createRepository(em: EntityManager): AccountsRepository {
  const all = <T>(sql: string, params: unknown[]) => em.execute<T[]>(sql, params, 'all');
  /** Runs a write; the number of rows it changed. */
  const changed = async (sql: string, params: unknown[]) =>
    (await em.execute<QueryResult>(sql, params, 'run')).affectedRows;

  // lower(column) = lower(?) matches the unique expression indexes, so the
  // lookup is an index scan, and PostgreSQL folds case on both sides alike.
  const userWhereLower = async (column: 'handle' | 'email', value: string) => {
    const [user] = await all<RawUser>(`select * from users where lower(${column}) = lower(?)`, [
      value,
    ]);
    return user ?? null;
  };

  const repo: AccountsRepository = {
    async usersByIds(ids) {
      const found = ids.length
        ? await all<RawUser>('select * from users where id in (?)', [[...new Set(ids)]])
        : [];
      const byId = new Map(found.map((u) => [u.id, toUserRow(u)]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async userByHandle(handle) {
      const user = await userWhereLower('handle', handle);
      return user ? toUserRow(user) : null;
    },
    async userByEmail(email) {
      const user = await userWhereLower('email', email);
      return user ? toUserRow(user) : null;
    },
    async credentialsByEmail(email) {
      const user = await userWhereLower('email', email);
      return user ? { user: toUserRow(user), passwordHash: user.password_hash } : null;
    },
    async insertUser(user) {
      try {
        const [inserted] = await all<RawUser>(
          `insert into users (id, handle, email, display_name, password_hash, roles)
           values (?, ?, ?, ?, ?, array[?]::text[])
           returning *`,
          [user.id, user.handle, user.email, user.displayName, user.passwordHash, [...user.roles]],
        );
        return toUserRow(inserted!);
      } catch (error) {
        const field = uniqueViolationField(error);
        if (field) throw new UniqueViolation(field);
        throw error;
      }
    },
    async setPasswordHash(userId, passwordHash) {
      await changed('update users set password_hash = ?, updated_at = now() where id = ?', [
        passwordHash,
        userId,
      ]);
    },
    async addRole(userId, role) {
      const [updated] = await all<RawUser>(
        // One statement, so two concurrent grants cannot both read the old
        // roles and each write back only their own.
        `update users set roles = array_append(roles, ?::text), updated_at = now()
         where id = ? and not (?::text = any (roles))
         returning *`,
        [role, userId, role],
      );
      if (updated) return toUserRow(updated);
      // Held already, or no such user.
      const [user] = await repo.usersByIds([userId]);
      return user ?? null;
    },

    async insertApiClient(client) {
      const [inserted] = await all<RawApiClient>(
        `insert into api_clients (id, user_id, name, scopes, secret_hash)
         values (?, ?, ?, array[?]::text[], ?)
         returning *`,
        [client.id, client.userId, client.name, [...client.scopes], client.secretHash],
      );
      return toApiClientRow(inserted!);
    },
    async apiClientById(id) {
      const [client] = await all<RawApiClient>('select * from api_clients where id = ?', [id]);
      return client ? toApiClientRow(client) : null;
    },
    async revokeApiClient(id, ownerId) {
      const count = await changed(
        `update api_clients set revoked_at = now()
         where id = ? and revoked_at is null and (?::uuid is null or user_id = ?::uuid)`,
        [id, ownerId || null, ownerId || null],
      );
      return count > 0;
    },

    async insertRefreshFamily(family) {
      await changed(
        'insert into refresh_token_families (id, user_id, client_id) values (?, ?, ?)',
        [family.id, family.userId, family.clientId],
      );
    },
    async insertRefreshToken(token) {
      await changed(
        `insert into refresh_tokens (id, family_id, parent_id, secret_hash, expires_at)
         values (?, ?, ?, ?, ?)`,
        [token.id, token.familyId, token.parentId, token.secretHash, token.expiresAt],
      );
    },
    async lockRefreshToken(id, reuseIntervalSeconds) {
      const [token] = await all<RawRefreshToken>(
        // statement_timestamp(), not now(): a refresh that waited for the lock
        // is judged by when it arrived, not when its transaction began.
        `select t.id, t.family_id, t.parent_id, t.secret_hash, t.expires_at, t.used_at,
                t.revoked_at, t.successor_sealed,
                coalesce(t.used_at > statement_timestamp() - make_interval(secs => ?), false)
                  as within_reuse_interval,
                f.user_id as family_user_id, f.client_id as family_client_id,
                f.revoked_at as family_revoked_at
         from refresh_tokens t join refresh_token_families f on f.id = t.family_id
         where t.id = ?
         for update of t`,
        [reuseIntervalSeconds, id],
      );
      return token ? toRefreshTokenRow(token) : null;
    },
    async markRefreshTokenUsed(id, successorSealed) {
      const count = await changed(
        `update refresh_tokens set used_at = statement_timestamp(), successor_sealed = ?
         where id = ? and used_at is null and revoked_at is null`,
        [successorSealed, id],
      );
      return count === 1;
    },
    async forgetSealedSuccessors(familyId, reuseIntervalSeconds) {
      await changed(
        `update refresh_tokens set successor_sealed = null
         where family_id = ? and successor_sealed is not null
           and used_at <= statement_timestamp() - make_interval(secs => ?)`,
        [familyId, reuseIntervalSeconds],
      );
    },
    revokeRefreshFamily: (familyId, userId) =>
      // One transaction: the family and its tokens are revoked together, at
      // the same now().
      em.transactional(async (tx) => {
        const { affectedRows } = await tx.execute<QueryResult>(
          `update refresh_token_families set revoked_at = now()
           where id = ? and revoked_at is null and (?::uuid is null or user_id = ?::uuid)`,
          [familyId, userId || null, userId || null],
          'run',
        );
        if (affectedRows > 0) {
          // The family row is what refresh checks; marking the tokens too keeps
          // each row telling the truth for whoever reads the table. Sealed
          // successors have nobody left to serve.
          await tx.execute(
            `update refresh_tokens set revoked_at = coalesce(revoked_at, now()), successor_sealed = null
             where family_id = ?`,
            [familyId],
            'run',
          );
        }
        return affectedRows > 0;
      }),

    transaction: (fn) => em.transactional((tx) => fn(createRepository(tx))),
  };
  return repo;
}

// ---------------------------------------------------------------- store

/** The opened store. */
export type Store = SessionStore<AccountsRepository>;

/**
 * Opens the accounts database: creates it if missing, applies pending
 * migrations (one instance at a time), and returns the repository factory.
 */
export const openStore = defineStore({
  name: 'accounts',
  migrations: migrationsList,
  repository: createRepository,
});
