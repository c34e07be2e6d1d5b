import { Kind } from 'graphql';
import { describe, expect, it } from 'vitest';
import { UserError } from '@arcadia/errors';
import { createPasswordHasher } from '../src/passwords.js';
import { DateTime } from '@arcadia/subgraph-kit';
import { hashSecret, newRefreshToken, parseRefreshToken, secretMatches } from '../src/secrets.js';
import { apiClientSchema, isUuid, parseInput, signUpSchema } from '../src/validation.js';

const valid = {
  handle: 'Ada_1815',
  email: 'ada@example.com',
  password: 'analytical engine',
  displayName: 'Ada Lovelace',
};

function rejection(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected parseInput to throw');
}

describe('sign-up validation', () => {
  it('accepts a valid input, trimming the email and display name', () => {
    expect(
      parseInput(signUpSchema, { ...valid, email: ' ada@example.com ', displayName: '  Ada  ' }),
    ).toEqual({
      ...valid,
      displayName: 'Ada',
    });
  });

  it.each(['abc', 'a'.repeat(24), 'under_score', 'MiXeD123'])('accepts the handle %j', (handle) => {
    expect(signUpSchema.safeParse({ ...valid, handle }).success).toBe(true);
  });

  it.each(['ab', 'a'.repeat(25), 'with space', 'dash-ed', 'dot.ted', 'émile', 'emoji😀', ''])(
    'refuses the handle %j',
    (handle) => {
      expect(
        rejection(() => parseInput(signUpSchema, { ...valid, handle })).extensions,
      ).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'handle',
      });
    },
  );

  it.each(['plain', 'no@tld', '@example.com', 'a b@example.com', `${'x'.repeat(250)}@example.com`])(
    'refuses the email %j',
    (email) => {
      expect(rejection(() => parseInput(signUpSchema, { ...valid, email })).extensions?.field).toBe(
        'email',
      );
    },
  );

  it('takes passwords of 10 to 256 characters, spaces included and untrimmed', () => {
    expect(parseInput(signUpSchema, { ...valid, password: ' '.repeat(10) }).password).toBe(
      ' '.repeat(10),
    );
    expect(signUpSchema.safeParse({ ...valid, password: 'p'.repeat(256) }).success).toBe(true);
    for (const password of ['p'.repeat(9), 'p'.repeat(257)]) {
      expect(
        rejection(() => parseInput(signUpSchema, { ...valid, password })).extensions?.field,
      ).toBe('password');
    }
  });

  it('counts display names in characters, not UTF-16 units', () => {
    expect(signUpSchema.safeParse({ ...valid, displayName: '😀'.repeat(50) }).success).toBe(true);
    expect(signUpSchema.safeParse({ ...valid, displayName: '😀'.repeat(51) }).success).toBe(false);
  });

  it.each(['', '   ', 'tab\there', 'new\nline', 'nul\u0000', 'c1\u0085'])(
    'refuses the display name %j',
    (displayName) => {
      expect(
        rejection(() => parseInput(signUpSchema, { ...valid, displayName })).extensions?.field,
      ).toBe('displayName');
    },
  );

  it.each(['abc\u202egnp', 'ab\u2066cd', 'nova\u200f', '\u200b\u200bnova'])(
    'refuses the handle %j, bidi and zero-width characters included',
    (handle) => {
      expect(
        rejection(() => parseInput(signUpSchema, { ...valid, handle })).extensions?.field,
      ).toBe('handle');
    },
  );

  it.each([
    ['a right-to-left override', 'Ada\u202eecalevoL'],
    ['an isolate', 'Ada \u2067Admin\u2069'],
    ['a right-to-left mark', 'Ada\u200f'],
    ['only zero-width characters', '\u200b\u200c\u200d'],
    ['only a word joiner and a BOM', '\u2060\ufeff'],
    ['only Hangul fillers', '\u3164\u3164'],
  ])('refuses a display name of %s', (_, displayName) => {
    expect(
      rejection(() => parseInput(signUpSchema, { ...valid, displayName })).extensions?.field,
    ).toBe('displayName');
  });

  it('keeps right-to-left scripts and emoji joined with zero-width joiners', () => {
    for (const displayName of ['עדה לאבלייס', 'أدا', '👩‍💻 Ada']) {
      expect(parseInput(signUpSchema, { ...valid, displayName }).displayName).toBe(displayName);
    }
  });

  it('names the first bad field and lists every problem', () => {
    const error = rejection(() =>
      parseInput(signUpSchema, { ...valid, handle: 'x', password: 'short' }),
    );
    expect(error.extensions.field).toBe('handle');
    expect(error.message).toBe('Handle must be 3–24 letters, digits or underscores.');
    expect((error.extensions.issues as { field: string }[]).map((i) => i.field)).toEqual([
      'handle',
      'password',
    ]);
  });
});

describe('API client validation', () => {
  it('accepts a name and distinct scopes', () => {
    expect(
      parseInput(apiClientSchema, {
        name: ' CI ',
        scopes: ['games:publish', 'fleet.read', 'a-b_c'],
      }),
    ).toEqual({
      name: 'CI',
      scopes: ['games:publish', 'fleet.read', 'a-b_c'],
    });
  });

  it.each([
    [{ name: '', scopes: ['a'] }, 'name'],
    [{ name: 'n'.repeat(101), scopes: ['a'] }, 'name'],
    [{ name: 'CI\u202e', scopes: ['a'] }, 'name'],
    [{ name: '\u200b', scopes: ['a'] }, 'name'],
    [{ name: 'ok', scopes: [] }, 'scopes'],
    [{ name: 'ok', scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) }, 'scopes'],
    [{ name: 'ok', scopes: ['dup', 'dup'] }, 'scopes'],
    [{ name: 'ok', scopes: [':leading'] }, 'scopes'],
    [{ name: 'ok', scopes: ['s'.repeat(65)] }, 'scopes'],
  ])('refuses %j', (input, field) => {
    expect(rejection(() => parseInput(apiClientSchema, input)).extensions?.field).toBe(field);
  });
});

describe('ids and secrets', () => {
  it('recognises UUIDs only', () => {
    expect(isUuid('3f2a1c4e-8b7d-4e6f-9a0b-1c2d3e4f5a6b')).toBe(true);
    expect(isUuid('3f2a1c4e8b7d4e6f9a0b1c2d3e4f5a6b')).toBe(false);
    expect(isUuid("'; drop table users; --")).toBe(false);
  });

  it('round-trips a refresh token and refuses anything else', () => {
    const issued = newRefreshToken();
    expect(parseRefreshToken(issued.token)).toEqual({ id: issued.id, secret: issued.secret });
    expect(secretMatches(issued.secret, issued.secretHash)).toBe(true);
    expect(secretMatches(`${issued.secret.slice(0, -1)}x`, issued.secretHash)).toBe(false);
    for (const bad of [
      '',
      'nodot',
      `${issued.id}.`,
      `not-a-uuid.${issued.secret}`,
      `${issued.id}.${issued.secret}x`,
    ]) {
      expect(parseRefreshToken(bad)).toBeNull();
    }
    expect(hashSecret('x')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('DateTime', () => {
  it('writes Dates as ISO-8601 in UTC and reads ISO-8601 with a zone only', () => {
    expect(DateTime.serialize(new Date(Date.UTC(2025, 0, 31, 12)))).toBe(
      '2025-01-31T12:00:00.000Z',
    );
    expect(DateTime.parseValue('2025-01-31T13:00:00+01:00')).toEqual(
      new Date(Date.UTC(2025, 0, 31, 12)),
    );
    expect(DateTime.parseLiteral({ kind: Kind.STRING, value: '2025-01-31T12:00:00Z' })).toEqual(
      new Date(Date.UTC(2025, 0, 31, 12)),
    );
    for (const bad of ['2025-01-31', '2025-01-31T12:00:00', 'yesterday', 12]) {
      expect(() => DateTime.parseValue(bad)).toThrow(/ISO-8601/);
    }
  });
});

describe('passwords', () => {
  const params = { memoryKib: 1024, timeCost: 1, parallelism: 1 };

  it('hashes with argon2id and verifies only the right password', async () => {
    const hasher = createPasswordHasher(params);
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'wrong')).toBe(false);
    expect(await hasher.verify('garbage', 'wrong')).toBe(false);
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });

  it('asks for a rehash when the cost parameters change', async () => {
    const hash = await createPasswordHasher(params).hash('correct horse battery staple');
    expect(createPasswordHasher(params).needsRehash(hash)).toBe(false);
    expect(createPasswordHasher({ ...params, timeCost: 2 }).needsRehash(hash)).toBe(true);
  });
});
