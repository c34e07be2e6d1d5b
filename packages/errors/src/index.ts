import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/**
 * Every `extensions.code` a client can see, as listed in docs/api.md.
 * Expected, user-caused failures use one of these; anything else is masked
 * as INTERNAL_SERVER_ERROR.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  RATE_LIMITED: 'RATE_LIMITED',
  CONFLICT: 'CONFLICT',
  SEAT_UNAVAILABLE: 'SEAT_UNAVAILABLE',
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
  ACCESS_TOKEN_INVALID: 'ACCESS_TOKEN_INVALID',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  ALREADY_OWNED: 'ALREADY_OWNED',
  NOT_ENTITLED: 'NOT_ENTITLED',
  SPAM_REJECTED: 'SPAM_REJECTED',
  BANNED: 'BANNED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** An APQ registration over the size the router stores; `extensions.maxBytes` says it. */
  PERSISTED_QUERY_TOO_LARGE: 'PERSISTED_QUERY_TOO_LARGE',
  /** An APQ registration whose `sha256Hash` is not the SHA-256 of its query. */
  PERSISTED_QUERY_HASH_MISMATCH: 'PERSISTED_QUERY_HASH_MISMATCH',
  /** A subgraph could not be reached; `extensions.serviceName` names it. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

/** One of the public error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Codes produced by GraphQL servers themselves for malformed requests; they
 * describe the client's request, not our internals, so they pass unmasked.
 */
const protocolCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

const publicCodes = new Set<string>(Object.values(ErrorCode));

/** The message every masked error carries. */
export const MASKED_MESSAGE = 'Unexpected error.';

/**
 * An expected, user-caused failure: its message and code reach the client.
 *
 * `httpStatus` is only for failures of a whole request (a bad token at the
 * router). Errors raised in resolvers leave it out: a subgraph answering
 * non-200 makes the gateway drop its partial data and error details.
 */
export class UserError extends GraphQLError {
  constructor(
    code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
    options: { httpStatus?: number } = {},
  ) {
    super(message, {
      extensions: {
        ...extensions,
        code,
        ...(options.httpStatus ? { http: { status: options.httpStatus } } : {}),
      },
    });
    this.name = 'UserError';
  }
}

/** Builds a {@link UserError}; `throw userError(...)` reads well in resolvers. */
export function userError(
  code: ErrorCode,
  message: string,
  extensions?: Record<string, unknown>,
): UserError {
  return new UserError(code, message, extensions);
}

/** RATE_LIMITED with the `retryAfterSeconds` clients need. */
export function rateLimited(retryAfterSeconds: number, message = 'Too many requests.'): UserError {
  return new UserError(ErrorCode.RATE_LIMITED, message, {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
  });
}

/** True when a formatted error carries a code that may be shown as is. */
export function isPublicCode(code: unknown): boolean {
  return typeof code === 'string' && (publicCodes.has(code) || protocolCodes.has(code));
}

/**
 * `formatError` for every server: keeps expected errors as they are and
 * replaces anything else with a bare INTERNAL_SERVER_ERROR, so stacks, SQL
 * and host names never reach a client. `onMasked` sees the original for logs.
 */
export function maskError(
  formatted: GraphQLFormattedError,
  error: unknown,
  onMasked?: (error: unknown) => void,
): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (isPublicCode(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    // Drop the stack trace Apollo adds in development; keep the rest.
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  onMasked?.(error);
  return {
    message: MASKED_MESSAGE,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
