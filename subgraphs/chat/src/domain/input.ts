/** Checks of what clients send, shared by the areas: texts, client ids, page sizes. */
import { ErrorCode, userError } from '@arcadia/errors';
import { CONTROL_CHARS } from '@arcadia/subgraph-kit';

const MAX_TEXT = 4000;
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A message text, trimmed; BAD_USER_INPUT when empty, too long or with control characters. */
export function validText(text: string, field: string): string {
  const trimmed = text.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > MAX_TEXT) {
    throw userError(ErrorCode.BAD_USER_INPUT, `A message is 1 to ${MAX_TEXT} characters.`, {
      field,
    });
  }
  if (CONTROL_CHARS.test(trimmed.replace(/[\n\t]/g, ''))) {
    throw userError(ErrorCode.BAD_USER_INPUT, 'A message may not contain control characters.', {
      field,
    });
  }
  return trimmed;
}

/** BAD_USER_INPUT unless `id` is a usable client message id. */
export function checkClientMessageId(id: string): void {
  if (!CLIENT_ID.test(id)) {
    throw userError(
      ErrorCode.BAD_USER_INPUT,
      'clientMessageId is 1 to 64 letters, digits or . _ : -',
      { field: 'clientMessageId' },
    );
  }
}

/** The page size asked for (`fallback` when none); BAD_USER_INPUT outside 1 to 100. */
export function pageSize(first: number | null | undefined, fallback: number): number {
  const size = first ?? fallback;
  if (size < 1 || size > 100) {
    throw userError(ErrorCode.BAD_USER_INPUT, '`first` is 1 to 100.', { field: 'first' });
  }
  return size;
}

/** The page of `rows` (fetched one longer than `first` to learn whether more follow). */
export function pageOf<T>(
  rows: readonly T[],
  first: number,
  cursor: (row: T) => string,
): {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
} {
  const edges = rows.slice(0, first).map((node) => ({ cursor: cursor(node), node }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
  };
}
