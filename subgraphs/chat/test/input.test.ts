import { describe, expect, it } from 'vitest';
import { UserError } from '@arcadia/errors';
import { validText, validTitle } from '../src/domain/input.js';

function refusal(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as UserError).extensions;
  }
  throw new Error('expected a BAD_USER_INPUT');
}

describe('message texts', () => {
  it.each([
    ['zero-width spaces', '\u200b\u200b\u200b'],
    ['joiners and a word joiner', '\u200c\u200d\u2060'],
    ['a byte-order mark between spaces', ' \ufeff '],
    ['Hangul fillers', '\u3164\u3164'],
    ['braille blanks', '\u2800\u2800'],
    ['a lone bidi mark', '\u200f'],
  ])('are refused when they are only %s', (_, text) => {
    expect(refusal(() => validText(text, 'text'))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'text',
    });
  });

  it('keep visible text with zero-width and bidi characters in it', () => {
    for (const text of ['👩‍👩‍👧', 'a\u200bb', 'שלום \u2067world\u2069', 'ok\n\tthen']) {
      expect(validText(text, 'text')).toBe(text);
    }
  });
});

describe('group titles', () => {
  it.each([
    ['a right-to-left override', 'Raid\u202enoitaretsnoM'],
    ['an isolate', 'Raid \u2066night\u2069'],
    ['only zero-width characters', '\u200b\u200d'],
  ])('are refused with %s', (_, title) => {
    expect(refusal(() => validTitle(title))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'title',
    });
  });

  it('are trimmed, and none when blank', () => {
    expect(validTitle('  Raid night  ')).toBe('Raid night');
    expect(validTitle('   ')).toBeNull();
    expect(validTitle(null)).toBeNull();
  });
});
