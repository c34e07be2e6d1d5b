/**
 * The accounts store: the only module that talks to PostgreSQL. Everything
 * else sees repository functions and plain rows.
 */
import {
  ArrayType,
  EntitySchema,
  UniqueConstraintViolationException,
  type EntityManager,
} from '@mikro-orm/postgresql';
import { openSessionStore, type SessionStore } from '@arcadia/postgres';
import { isRole, type Role } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
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
}

/** Raised when a handle or email is already taken (by the unique index, not a pre-check). */
export class UniqueViolation extends Error {
  constructor(readonly field: 'handle' | 'email') {
    super(`${field} is taken`);
    this.name = 'UniqueViolation';
  }
}

// ------------------------------------------------------------- entities

interface UserEntity {
  id: string;
  handle: string;
  email: string;
  displayName: string;
  passwordHash: string;
  roles: string[];
  createdAt: Date;
  updatedAt: Date;
}

interface ApiClientEntity {
  id: string;
  userId: string;
  name: string;
  scopes: string[];
  secretHash: string;
  createdAt: Date;
  revokedAt: Date | null;
}

interface RefreshFamilyEntity {
  id: string;
  userId: string;
  clientId: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

interface RefreshTokenEntity {
  id: string;
  familyId: string;
  parentId: string | null;
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

// Foreign keys are plain columns: the tables are created by the hand-written
// migrations, and the repository never needs the ORM to walk relations.
const timestamp = { type: 'datetime', columnType: 'timestamptz' } as const;
const nullableTimestamp = { ...timestamp, nullable: true } as const;

const User = new EntitySchema<UserEntity>({
  name: 'User',
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    handle: { type: 'text' },
    email: { type: 'text' },
    displayName: { type: 'text' },
    passwordHash: { type: 'text' },
    roles: { type: ArrayType, columnType: 'text[]' },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
});

const ApiClient = new EntitySchema<ApiClientEntity>({
  name: 'ApiClient',
  tableName: 'api_clients',
  properties: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'uuid' },
    name: { type: 'text' },
    scopes: { type: ArrayType, columnType: 'text[]' },
    secretHash: { type: 'text' },
    createdAt: timestamp,
    revokedAt: nullableTimestamp,
  },
});

const RefreshFamily = new EntitySchema<RefreshFamilyEntity>({
  name: 'RefreshFamily',
  tableName: 'refresh_token_families',
  properties: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'uuid' },
    clientId: { type: 'uuid', nullable: true },
    createdAt: timestamp,
    revokedAt: nullableTimestamp,
  },
});

const RefreshToken = new EntitySchema<RefreshTokenEntity>({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    familyId: { type: 'uuid' },
    parentId: { type: 'uuid', nullable: true },
    secretHash: { type: 'text' },
    createdAt: timestamp,
    expiresAt: timestamp,
    usedAt: nullableTimestamp,
    revokedAt: nullableTimestamp,
  },
});

const uniqueIndexFields: Record<string, 'handle' | 'email'> = {
  users_handle_lower_key: 'handle',
  users_email_lower_key: 'email',
};

function toUserRow(e: UserEntity): UserRow {
  return {
    id: e.id,
    handle: e.handle,
    email: e.email,
    displayName: e.displayName,
    roles: e.roles.filter(isRole),
    createdAt: e.createdAt,
  };
}

function toApiClientRow(e: ApiClientEntity): ApiClientRow {
  return {
    id: e.id,
    userId: e.userId,
    name: e.name,
    scopes: [...e.scopes],
    secretHash: e.secretHash,
    createdAt: e.createdAt,
    revokedAt: e.revokedAt ?? null,
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
  refreshTokenById(id: string): Promise<RefreshTokenRow | null>;
  /**
   * Marks an unused token used. Conditional on `used_at IS NULL`, so of two
   * concurrent refreshes of the same token exactly one gets `true`.
   */
  markRefreshTokenUsed(id: string): Promise<boolean>;
  /** Revokes a family and its tokens, only if it belongs to `userId` when given; true when it was active. */
  revokeRefreshFamily(familyId: string, userId?: string): Promise<boolean>;

  /** Runs `fn` in a transaction: all of its writes happen, or none. */
  transaction<T>(fn: (repo: AccountsRepository) => Promise<T>): Promise<T>;
}

function createRepository(em: EntityManager): AccountsRepository {
  // lower(column) = lower(?) matches the unique expression indexes, so the
  // lookup is an index scan, and PostgreSQL folds case on both sides alike.
  const usersWhereLower = (column: 'handle' | 'email', value: string) =>
    em
      .createQueryBuilder(User)
      .select('*')
      .where(`lower(${column}) = lower(?)`, [value])
      .getSingleResult();

  const repo: AccountsRepository = {
    async usersByIds(ids) {
      const found = ids.length ? await em.find(User, { id: { $in: [...new Set(ids)] } }) : [];
      const byId = new Map(found.map((u) => [u.id, toUserRow(u)]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async userByHandle(handle) {
      const user = await usersWhereLower('handle', handle);
      return user ? toUserRow(user) : null;
    },
    async userByEmail(email) {
      const user = await usersWhereLower('email', email);
      return user ? toUserRow(user) : null;
    },
    async credentialsByEmail(email) {
      const user = await usersWhereLower('email', email);
      return user ? { user: toUserRow(user), passwordHash: user.passwordHash } : null;
    },
    async insertUser(user) {
      const now = new Date();
      try {
        await em.insert(User, { ...user, roles: [...user.roles], createdAt: now, updatedAt: now });
      } catch (error) {
        const field =
          error instanceof UniqueConstraintViolationException
            ? uniqueIndexFields[(error as { constraint?: string }).constraint ?? '']
            : undefined;
        if (field) throw new UniqueViolation(field);
        throw error;
      }
      return toUserRow({ ...user, roles: [...user.roles], createdAt: now, updatedAt: now });
    },
    async setPasswordHash(userId, passwordHash) {
      await em.nativeUpdate(User, { id: userId }, { passwordHash, updatedAt: new Date() });
    },
    async addRole(userId, role) {
      await em
        .getConnection()
        .execute(
          'update users set roles = array_append(roles, ?::text), updated_at = now() where id = ? and not (?::text = any (roles))',
          [role, userId, role],
          'run',
        );
      const [user] = await repo.usersByIds([userId]);
      return user ?? null;
    },

    async insertApiClient(client) {
      const row: ApiClientEntity = {
        ...client,
        scopes: [...client.scopes],
        createdAt: new Date(),
        revokedAt: null,
      };
      await em.insert(ApiClient, row);
      return toApiClientRow(row);
    },
    async apiClientById(id) {
      const client = await em.findOne(ApiClient, { id });
      return client ? toApiClientRow(client) : null;
    },
    async revokeApiClient(id, ownerId) {
      const count = await em.nativeUpdate(
        ApiClient,
        { id, revokedAt: null, ...(ownerId ? { userId: ownerId } : {}) },
        { revokedAt: new Date() },
      );
      return count > 0;
    },

    async insertRefreshFamily(family) {
      await em.insert(RefreshFamily, { ...family, createdAt: new Date(), revokedAt: null });
    },
    async insertRefreshToken(token) {
      await em.insert(RefreshToken, {
        ...token,
        createdAt: new Date(),
        usedAt: null,
        revokedAt: null,
      });
    },
    async refreshTokenById(id) {
      const token = await em.findOne(RefreshToken, { id });
      if (!token) return null;
      const family = await em.findOne(RefreshFamily, { id: token.familyId });
      if (!family) return null;
      return {
        id: token.id,
        familyId: token.familyId,
        parentId: token.parentId ?? null,
        secretHash: token.secretHash,
        expiresAt: token.expiresAt,
        usedAt: token.usedAt ?? null,
        revokedAt: token.revokedAt ?? null,
        family: {
          id: family.id,
          userId: family.userId,
          clientId: family.clientId ?? null,
          revokedAt: family.revokedAt ?? null,
        },
      };
    },
    async markRefreshTokenUsed(id) {
      const count = await em.nativeUpdate(
        RefreshToken,
        { id, usedAt: null, revokedAt: null },
        { usedAt: new Date() },
      );
      return count === 1;
    },
    async revokeRefreshFamily(familyId, userId) {
      const now = new Date();
      const count = await em.nativeUpdate(
        RefreshFamily,
        { id: familyId, revokedAt: null, ...(userId ? { userId } : {}) },
        { revokedAt: now },
      );
      if (count > 0) {
        // The family row is what refresh checks; marking the tokens too keeps
        // each row telling the truth for whoever reads the table.
        await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: now });
      }
      return count > 0;
    },

    transaction: (fn) => em.transactional((tx) => fn(createRepository(tx))),
  };
  return repo;
}

// ---------------------------------------------------------------- store

/** How to reach the database. */
export interface StoreOptions {
  databaseUrl: string;
  logger?: Logger;
  /** Largest number of pooled connections. */
  poolSize?: number;
}

/** The opened store. */
export type Store = SessionStore<AccountsRepository>;

// Any fixed 64-bit number: instances starting together take turns migrating.
const MIGRATION_LOCK = 0x6163636f756e7473n; // "accounts"

/**
 * Opens the accounts database: creates it if missing, applies pending
 * migrations (one instance at a time), and returns the repository factory.
 */
export function openStore(options: StoreOptions): Promise<Store> {
  return openSessionStore({
    databaseUrl: options.databaseUrl,
    entities: [User, ApiClient, RefreshFamily, RefreshToken],
    migrationsList,
    migrationLock: MIGRATION_LOCK,
    logger: options.logger,
    poolSize: options.poolSize,
    repository: createRepository,
  });
}
