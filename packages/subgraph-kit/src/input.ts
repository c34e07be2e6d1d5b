import type { z } from 'zod';
import { ErrorCode, userError } from '@arcadia/errors';

/** Control characters, refused in names and texts users type. */
export const CONTROL_CHARS = /\p{Cc}/u;

/**
 * Bidirectional formatting characters (marks, embeddings, overrides,
 * isolates): invisible, they reorder what follows, so `abc\u202Egnp.exe`
 * shows as `abcexe.png`. Refused in names and filenames shown to others.
 */
export const BIDI_CONTROLS = /\p{Bidi_Control}/u;

// Characters that draw nothing: whitespace, zero-width and other default-ignorable
// code points, format characters, and the braille blank often used as an "empty" name.
const INVISIBLE = /^[\s\p{Default_Ignorable_Code_Point}\p{Cf}\u2800]*$/u;

/** True when `text` would show something: not empty, and not only invisible characters. */
export function isVisible(text: string): boolean {
  return !INVISIBLE.test(text);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a well-formed UUID; ids that are not cannot exist, so no query is needed. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Parses user input or throws BAD_USER_INPUT. `extensions.field` names the
 * first offending field (the top-level argument or input field) so a form can
 * point at it; `extensions.issues` lists every problem.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.length ? String(issue.path[0]) : null,
    message: issue.message,
  }));
  const first = issues[0]!;
  throw userError(ErrorCode.BAD_USER_INPUT, first.message, {
    field: first.field,
    issues,
  });
}
