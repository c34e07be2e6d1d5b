import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, env, parseEnv, servicesEnv } from '../src/index.js';

describe('parseEnv', () => {
  const shape = {
    PORT: env.port(4001),
    ORIGINS: env.list(),
    DEBUG: env.bool(false),
    NAME: z.string(),
  };

  it('applies defaults and converts types', () => {
    const cfg = parseEnv('demo', shape, { NAME: 'x', ORIGINS: 'a, b,,c', DEBUG: '1' });
    expect(cfg).toEqual({ PORT: 4001, ORIGINS: ['a', 'b', 'c'], DEBUG: true, NAME: 'x' });
  });

  it('reports every invalid variable at once', () => {
    let error: unknown;
    try {
      parseEnv('demo', shape, { PORT: 'eighty', DEBUG: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT/);
    expect(problems).toMatch(/DEBUG/);
    expect(problems).toMatch(/NAME/);
  });

  it('returns a frozen result', () => {
    const cfg = parseEnv('demo', shape, { NAME: 'x' });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.ORIGINS)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv('demo', shape, { NAME: 'x', PORT: '' }).PORT).toBe(4001);
  });

  it('parses name=url maps and rejects malformed pairs', () => {
    const s = { SUBGRAPHS: env.map() };
    expect(parseEnv('demo', s, { SUBGRAPHS: 'accounts=http://a:1/graphql' }).SUBGRAPHS).toEqual({
      accounts: 'http://a:1/graphql',
    });
    expect(() => parseEnv('demo', s, { SUBGRAPHS: 'accounts' })).toThrow(/name=value/);
  });

  it('defaults the local services to localhost', () => {
    const cfg = parseEnv('demo', { ...servicesEnv.redis, ...servicesEnv.s3 }, {});
    expect(cfg.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(cfg.S3_FORCE_PATH_STYLE).toBe(true);
  });
});
