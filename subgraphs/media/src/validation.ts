import { z } from 'zod';
import { BIDI_CONTROLS, CONTROL_CHARS, isVisible } from '@arcadia/subgraph-kit';

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
    .refine((s) => !CONTROL_CHARS.test(s), 'Filename must not contain control characters.')
    // `abc\u202Egnp.exe` shows as `abcexe.png`: bidi controls only ever disguise a filename.
    .refine(
      (s) => !BIDI_CONTROLS.test(s),
      'Filename must not contain bidirectional control characters.',
    )
    .refine(isVisible, 'Filename must not be empty.'),
  contentType: z.string(),
  byteSize: z.number().int().min(1, 'byteSize must be at least 1.'),
});

export { isUuid, parseInput } from '@arcadia/subgraph-kit';
