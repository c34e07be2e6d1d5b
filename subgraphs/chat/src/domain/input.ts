/** Checks of what clients send, shared by the areas: texts, client ids, page sizes. */
import { ErrorCode, userError } from '@arcadia/errors';
import { BIDI_CONTROLS, CONTROL_CHARS, isVisible } from '@arcadia/subgraph-kit';

const MAX_TEXT = 4000;
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * A message text, trimmed; BAD_USER_INPUT when empty, invisible (only
 * zero-width or other non-printing characters), too long or with control
 * characters. Bidi controls stay allowed: mixed-direction text needs them.
 */
export function validText(text: string, field: string): string {
  const trimmed = text.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > MAX_TEXT) {
    throw userError(ErrorCode.BAD_USER_INPUT, `A message is 1 to ${MAX_TEXT} characters.`, {
      field,
    });
  }
  if (!isVisible(trimmed)) {
    throw userError(ErrorCode.BAD_USER_INPUT, 'A message must contain visible text.', { field });
  }
  if (CONTROL_CHARS.test(trimmed.replace(/[\n\t]/g, ''))) {
    throw userError(ErrorCode.BAD_USER_INPUT, 'A message may not contain control characters.', {
      field,
    });
  }
  return trimmed;
}

/**
 * A group's title, trimmed (null when none or blank); BAD_USER_INPUT when
 * longer than 100 characters, invisible, or with control or bidi characters,
 * which could make a group pass for another.
 */
export function validTitle(title: string | null | undefined): string | null {
  const trimmed = title?.trim() || null;
  if (
    trimmed !== null &&
    ([...trimmed].length > 100 ||
      !isVisible(trimmed) ||
      CONTROL_CHARS.test(trimmed) ||
      BIDI_CONTROLS.test(trimmed))
  ) {
    throw userError(
      ErrorCode.BAD_USER_INPUT,
      'A title is 1 to 100 visible characters, no control or bidirectional control characters.',
      { field: 'title' },
    );
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
