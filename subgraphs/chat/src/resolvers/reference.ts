import { ErrorCode, UserError } from '@arcadia/errors';

/**
 * What a lookup finds, or null when it answered NOT_FOUND: an entity
 * reference to nothing resolves to null. Every other error propagates, so
 * FORBIDDEN stays FORBIDDEN and a store that fails is an error (masked as
 * INTERNAL_SERVER_ERROR and logged), never a silent "not found".
 */
export async function nullIfNotFound<T>(lookup: Promise<T>): Promise<T | null> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof UserError && error.extensions.code === ErrorCode.NOT_FOUND) return null;
    throw error;
  }
}
