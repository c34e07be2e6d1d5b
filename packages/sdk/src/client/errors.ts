import type { GraphQLFormattedError } from 'graphql';
import { CONTRACT_ERROR_CODES, PROTOCOL_ERROR_CODES } from '../generated/error-codes.js';

/**
 * Codes the SDK itself raises: `IMAGE_FAILED` when `uploadImage` sees the
 * image end FAILED (its `failureReason` is the message).
 */
export const SDK_ERROR_CODES = ['IMAGE_FAILED'] as const;

/**
 * Every `extensions.code` a client can see: the API contract's (docs/api.md's
 * error table, generated from the router's list), the GraphQL protocol's
 * that the router passes through, and the SDK's own.
 */
export type ArcadiaErrorCode =
  | (typeof CONTRACT_ERROR_CODES)[number]
  | (typeof PROTOCOL_ERROR_CODES)[number]
  | (typeof SDK_ERROR_CODES)[number];

/** Every code of {@link ArcadiaErrorCode}, for checks at run time. */
export const ARCADIA_ERROR_CODES: readonly ArcadiaErrorCode[] = [
  ...CONTRACT_ERROR_CODES,
  ...PROTOCOL_ERROR_CODES,
  ...SDK_ERROR_CODES,
];

/** What every GraphQL error has, whatever its code. */
interface ErrorBase {
  message: string;
  path?: readonly (string | number)[];
  /** The error's `extensions` as received (its `code` included). */
  extensions: Readonly<Record<string, unknown>>;
}

/** Why an UNAUTHENTICATED request was refused (`extensions.reason`). */
export type UnauthenticatedReason =
  | 'TOKEN_EXPIRED'
  | 'TOKEN_INVALID'
  | 'SESSION_REVOKED'
  // Other reasons (e.g. a wrong password has none) stay strings.
  | (string & {});

/** Codes whose errors carry fields of their own. */
type DetailedCode =
  | 'UNAUTHENTICATED'
  | 'RATE_LIMITED'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'PERSISTED_QUERY_TOO_LARGE'
  | 'QUERY_TOO_COMPLEX'
  | 'SERVICE_UNAVAILABLE';

/**
 * One GraphQL error, discriminated by `code`: narrow on `code` (or with
 * {@link isArcadiaError}) to reach the fields that code carries.
 */
export type ArcadiaGraphQLError =
  | (ErrorBase & { code: 'UNAUTHENTICATED'; reason?: UnauthenticatedReason })
  | (ErrorBase & { code: 'RATE_LIMITED'; retryAfterSeconds: number })
  // One variant per code, so that Extract<…, { code: C }> finds each.
  | (ErrorBase & { code: 'BAD_USER_INPUT'; field?: string })
  | (ErrorBase & { code: 'CONFLICT'; field?: string })
  | (ErrorBase & { code: 'PAYLOAD_TOO_LARGE'; maxBytes?: number })
  | (ErrorBase & { code: 'PERSISTED_QUERY_TOO_LARGE'; maxBytes?: number })
  | (ErrorBase & { code: 'QUERY_TOO_COMPLEX'; limit?: string })
  | (ErrorBase & { code: 'SERVICE_UNAVAILABLE'; serviceName?: string })
  | { [C in Exclude<ArcadiaErrorCode, DetailedCode>]: ErrorBase & { code: C } }[Exclude<
      ArcadiaErrorCode,
      DetailedCode
    >];

const stringOf = (value: unknown) => (typeof value === 'string' ? value : undefined);
const numberOf = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/**
 * One error of a response as the SDK types it. An error without a code is
 * INTERNAL_SERVER_ERROR; a code this SDK version does not know (a newer
 * router) is kept as sent, so programs can still compare it.
 */
export function parseGraphQLError(error: GraphQLFormattedError): ArcadiaGraphQLError {
  const extensions = (error.extensions ?? {}) as Record<string, unknown>;
  const code = stringOf(extensions.code) ?? 'INTERNAL_SERVER_ERROR';
  const base: ErrorBase = {
    message: typeof error.message === 'string' ? error.message : 'Unexpected error.',
    ...(error.path ? { path: error.path } : {}),
    extensions,
  };
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
  switch (code) {
    case 'UNAUTHENTICATED':
      return { ...base, code, ...optional('reason', stringOf(extensions.reason)) };
    case 'RATE_LIMITED':
      // The router always sends it; 1 s is its floor should one ever lack it.
      return { ...base, code, retryAfterSeconds: numberOf(extensions.retryAfterSeconds) ?? 1 };
    case 'BAD_USER_INPUT':
    case 'CONFLICT':
      return { ...base, code, ...optional('field', stringOf(extensions.field)) };
    case 'PAYLOAD_TOO_LARGE':
    case 'PERSISTED_QUERY_TOO_LARGE':
      return { ...base, code, ...optional('maxBytes', numberOf(extensions.maxBytes)) };
    case 'QUERY_TOO_COMPLEX':
      return { ...base, code, ...optional('limit', stringOf(extensions.limit)) };
    case 'SERVICE_UNAVAILABLE':
      return { ...base, code, ...optional('serviceName', stringOf(extensions.serviceName)) };
    default:
      return { ...base, code: code as Exclude<ArcadiaErrorCode, DetailedCode> };
  }
}

/**
 * A GraphQL operation answered with errors. `code` and `first` are those of
 * the first error; `data` is the partial data that came with them, if any.
 */
export class ArcadiaError extends Error {
  readonly errors: readonly ArcadiaGraphQLError[];
  readonly data: unknown;
  /** The HTTP status of the response, when it came over HTTP. */
  readonly status?: number;

  constructor(
    errors: readonly ArcadiaGraphQLError[],
    options: { data?: unknown; status?: number; cause?: unknown } = {},
  ) {
    const first = errors[0] ?? parseGraphQLError({ message: 'Unexpected error.' });
    super(first.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArcadiaError';
    this.errors = errors.length > 0 ? errors : [first];
    this.data = options.data ?? null;
    if (options.status !== undefined) this.status = options.status;
  }

  /** The first error, typed for narrowing on its `code`. */
  get first(): ArcadiaGraphQLError {
    return this.errors[0]!;
  }

  /** The code of the first error. */
  get code(): ArcadiaErrorCode {
    return this.first.code;
  }

  /** An ArcadiaError of the formatted errors of a response. */
  static fromResponse(
    errors: readonly GraphQLFormattedError[],
    options: { data?: unknown; status?: number } = {},
  ): ArcadiaError {
    return new ArcadiaError(errors.map(parseGraphQLError), options);
  }
}

/**
 * The router could not be reached or did not answer with GraphQL: a
 * connection failure, a timeout, or an HTTP error without a GraphQL body
 * (`status` says which).
 */
export class ArcadiaNetworkError extends Error {
  readonly status?: number;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArcadiaNetworkError';
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * True when `error` is an {@link ArcadiaError}, and when `code` is given,
 * one whose first error has that code: `isArcadiaError(e, 'RATE_LIMITED')`
 * narrows `e.first` to the RATE_LIMITED variant (`retryAfterSeconds`).
 */
export function isArcadiaError<C extends ArcadiaErrorCode>(
  error: unknown,
  code?: C,
): error is ArcadiaError & { first: Extract<ArcadiaGraphQLError, { code: C }> } {
  return error instanceof ArcadiaError && (code === undefined || error.code === code);
}

/** The UNAUTHENTICATED error the SDK raises itself (a revoked session on a socket). */
export function unauthenticated(message: string, reason: UnauthenticatedReason): ArcadiaError {
  return new ArcadiaError([
    parseGraphQLError({ message, extensions: { code: 'UNAUTHENTICATED', reason } }),
  ]);
}
