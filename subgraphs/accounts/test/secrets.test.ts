import { describe, expect, it } from 'vitest';
import { newRefreshToken, openForToken, sealForToken } from '../src/secrets.js';

describe('a sealed successor', () => {
  it('opens with the spent token it was sealed for', () => {
    const spent = newRefreshToken();
    const sealed = sealForToken(spent.secret, spent.id, 'the successor pair');
    expect(sealed).not.toContain('successor');
    expect(openForToken(spent.secret, spent.id, sealed)).toBe('the successor pair');
  });

  it('does not open with another token, nor under another token id', () => {
    const spent = newRefreshToken();
    const other = newRefreshToken();
    const sealed = sealForToken(spent.secret, spent.id, 'the successor pair');
    expect(() => openForToken(other.secret, spent.id, sealed)).toThrow();
    expect(() => openForToken(spent.secret, other.id, sealed)).toThrow();
  });
});
