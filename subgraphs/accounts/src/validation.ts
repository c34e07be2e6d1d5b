import { z } from 'zod';
import { BIDI_CONTROLS, CONTROL_CHARS, isVisible } from '@arcadia/subgraph-kit';

// Control characters (C0, DEL, C1) never belong in a name shown to others:
// they break layouts and can hide text. Bidi controls reorder what follows
// (impersonation), and a name of only zero-width characters looks empty.

const codePoints = (s: string) => [...s].length;

/** 3–24 letters, digits or underscores (ASCII, so case folding is unambiguous). */
export const handleSchema = z
  .string()
  .regex(/^[A-Za-z0-9_]{3,24}$/, 'Handle must be 3–24 letters, digits or underscores.');

/** An email address, trimmed; at most 254 characters as SMTP allows. */
export const emailSchema = z
  .string()
  .trim()
  .max(254, 'Email must be at most 254 characters.')
  .pipe(z.email('Email must be a valid email address.'));

/** 10–256 characters; not trimmed, every character counts. */
export const passwordSchema = z
  .string()
  .min(10, 'Password must be at least 10 characters.')
  .max(256, 'Password must be at most 256 characters.');

/** 1–50 characters after trimming, something visible, no control or bidi characters. */
export const displayNameSchema = z
  .string()
  .trim()
  .refine(isVisible, 'Display name must not be empty.')
  .refine((s) => codePoints(s) <= 50, 'Display name must be at most 50 characters.')
  .refine((s) => !CONTROL_CHARS.test(s), 'Display name must not contain control characters.')
  .refine(
    (s) => !BIDI_CONTROLS.test(s),
    'Display name must not contain bidirectional control characters.',
  );

/** Input of `signUp`. */
export const signUpSchema = z.object({
  handle: handleSchema,
  email: emailSchema,
  password: passwordSchema,
  displayName: displayNameSchema,
});

/** One scope of an API client, e.g. `games:publish`. */
export const scopeSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/,
    'Each scope must be 1–64 letters, digits or `_ . : -`, starting with a letter or digit.',
  );

/** Input of `createApiClient`. */
export const apiClientSchema = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'Name must not be empty.')
    .max(100, 'Name must be at most 100 characters.')
    .refine((s) => !CONTROL_CHARS.test(s), 'Name must not contain control characters.')
    .refine(
      (s) => !BIDI_CONTROLS.test(s),
      'Name must not contain bidirectional control characters.',
    )
    .refine(isVisible, 'Name must not be empty.'),
  scopes: z
    .array(scopeSchema)
    .min(1, 'At least one scope is required.')
    .max(32, 'At most 32 scopes are allowed.')
    .refine((list) => new Set(list).size === list.length, 'Scopes must not repeat.'),
});

export { isUuid, parseInput } from '@arcadia/subgraph-kit';
