import { ArcadiaNetworkError, isArcadiaError } from '@arcadia/sdk';

/** What a person is told about a failed call. */
export interface ErrorDescription {
  /** The sentence to show. */
  message: string;
  /** RATE_LIMITED: seconds until another try may work. */
  retryAfterSeconds?: number;
}

/** Per-screen wording for a code, e.g. UNAUTHENTICATED on the sign-in form. */
export type ErrorWording = Partial<Record<string, string>>;

/**
 * Maps an error thrown by the SDK to words for people: the API's codes
 * (docs/api.md's table) first, a network failure next, anything else as a
 * generic failure, never a stack trace.
 */
export function describeError(error: unknown, wording: ErrorWording = {}): ErrorDescription {
  if (isArcadiaError(error, 'RATE_LIMITED')) {
    return {
      message: wording.RATE_LIMITED ?? 'Too many requests.',
      retryAfterSeconds: Math.max(1, Math.ceil(error.first.retryAfterSeconds)),
    };
  }
  if (isArcadiaError(error)) {
    const custom = wording[error.code];
    if (custom) return { message: custom };
    switch (error.code) {
      case 'FORBIDDEN':
        return { message: 'You are not allowed to do that.' };
      case 'NOT_FOUND':
        return { message: 'That could not be found; it may have been removed.' };
      case 'UNAUTHENTICATED':
        return { message: 'Your session has ended. Please sign in again.' };
      case 'SERVICE_UNAVAILABLE':
        return { message: 'Part of Arcadia is unavailable right now. Please try again shortly.' };
      case 'INTERNAL_SERVER_ERROR':
        return { message: 'Something went wrong on our side. Please try again.' };
      default:
        // BAD_USER_INPUT, CONFLICT, PAYLOAD_TOO_LARGE, …: the API's messages are written for people.
        return { message: error.message };
    }
  }
  if (error instanceof ArcadiaNetworkError) {
    return {
      message:
        wording.NETWORK ??
        'Arcadia cannot be reached. Check your connection; the console keeps trying.',
    };
  }
  return { message: wording.UNKNOWN ?? 'Something went wrong. Please try again.' };
}

/** The input field a BAD_USER_INPUT or CONFLICT error names, with its message. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The error to show next to a field, when the API named one of `fields`
 * (`extensions.field`); null when the error belongs to the form as a whole.
 */
export function fieldErrorOf(error: unknown, fields: readonly string[]): FieldError | null {
  if (!isArcadiaError(error)) return null;
  const first = error.first;
  if (first.code !== 'BAD_USER_INPUT' && first.code !== 'CONFLICT') return null;
  if (first.field === undefined || !fields.includes(first.field)) return null;
  return { field: first.field, message: first.message };
}

/** Whether a failure was the network's (worth retrying on its own once back online). */
export function isNetworkFailure(error: unknown): boolean {
  return error instanceof ArcadiaNetworkError;
}
