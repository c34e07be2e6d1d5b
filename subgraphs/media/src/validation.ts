import { z } from 'zod';
import { ErrorCode, userError } from '@arcadia/errors';

// Control characters (C0, DEL, C1) never belong in a file name shown back to anyone.
const CONTROL_CHARS = /\p{Cc}/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The MIME types an upload may declare, each with the name it is stored
 * under. The worker checks the file's real format anyway; this refuses what
 * can never be processed before anything is uploaded.
 */
export const ACCEPTED_CONTENT_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/png': 'image/png',
  'image/webp': 'image/webp',
  'image/gif': 'image/gif',
  'image/avif': 'image/avif',
  'image/heic': 'image/heic',
  'image/heif': 'image/heif',
};

/** The canonical form of an accepted MIME type, or null when it is not accepted. */
export function acceptedContentType(contentType: string): string | null {
  return ACCEPTED_CONTENT_TYPES[contentType.trim().toLowerCase()] ?? null;
}

/** Input of `createImageUpload`, apart from the type and size checks that have their own codes. */
export const createUploadSchema = z.object({
  filename: z
    .string()
    .trim()
    .min(1, 'Filename must not be empty.')
    .max(255, 'Filename must be at most 255 characters.')
    .refine((s) => !CONTROL_CHARS.test(s), 'Filename must not contain control characters.'),
  contentType: z.string(),
  byteSize: z.number().int().min(1, 'byteSize must be at least 1.'),
});

/** True for a well-formed UUID; ids that are not cannot exist, so no query is needed. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Parses user input or throws BAD_USER_INPUT. `extensions.field` names the
 * first offending field so a form can point at it; `extensions.issues` lists
 * every problem.
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
