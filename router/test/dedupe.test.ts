import { describe, expect, it } from 'vitest';
import { ANONYMOUS } from '@arcadia/auth';
import { callerScope, InflightDeduplicator } from '../src/dedupe.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('InflightDeduplicator', () => {
  it('runs concurrent work under one key once and gives every caller its outcome', async () => {
    let shared = 0;
    const dedupe = new InflightDeduplicator<number>({ onShared: () => shared++ });
    const gate = deferred<number>();
    let runs = 0;
    const work = () => {
      runs++;
      return gate.promise;
    };
    const all = Promise.all([dedupe.run('k', work), dedupe.run('k', work), dedupe.run('k', work)]);
    gate.resolve(7);
    expect(await all).toEqual([7, 7, 7]);
    expect({ runs, shared }).toEqual({ runs: 1, shared: 2 });
  });

  it('keeps nothing after the work settles, an error included', async () => {
    const dedupe = new InflightDeduplicator<number>();
    let runs = 0;
    const failing = () => {
      runs++;
      return Promise.reject(new Error('boom'));
    };
    await expect(Promise.all([dedupe.run('k', failing), dedupe.run('k', failing)])).rejects.toThrow(
      'boom',
    );
    expect(runs).toBe(1);
    expect(dedupe.size).toBe(0);
    await expect(dedupe.run('k', failing)).rejects.toThrow('boom');
    expect(runs).toBe(2);
    expect(await dedupe.run('k', () => Promise.resolve(1))).toBe(1);
  });

  it('turns a synchronous throw into the rejection of that run', async () => {
    const dedupe = new InflightDeduplicator<number>();
    await expect(
      dedupe.run('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(dedupe.size).toBe(0);
  });

  it('gives each sharer but the last its own copy, so one mutating it cannot change another', async () => {
    const dedupe = new InflightDeduplicator<{ list: number[] }>({
      copy: (value) => structuredClone(value),
    });
    const original = { list: [1] };
    const gate = deferred<{ list: number[] }>();
    const runs = [1, 2, 3].map((n) =>
      dedupe
        .run('k', () => gate.promise)
        .then((value) => {
          // What the gateway does to fetched data: merge into it in place.
          value.list.push(n * 10);
          return value;
        }),
    );
    gate.resolve(original);
    const results = await Promise.all(runs);
    expect(results.map((r) => r.list)).toEqual([
      [1, 10],
      [1, 20],
      [1, 30],
    ]);
    // The last sharer was handed the original itself: no copy was wasted.
    expect(results[2]).toBe(original);
  });

  it('does not join different keys', async () => {
    const dedupe = new InflightDeduplicator<string>();
    const out = await Promise.all([
      dedupe.run('a', () => Promise.resolve('a')),
      dedupe.run('b', () => Promise.resolve('b')),
    ]);
    expect(out).toEqual(['a', 'b']);
  });
});

describe('callerScope', () => {
  const alice = { userId: 'u1', roles: ['USER'] as const, scopes: [], sessionId: 's1' };

  it('is one scope for every anonymous caller', () => {
    expect(callerScope(ANONYMOUS, '10.0.0.1')).toBe(callerScope(ANONYMOUS, '10.0.0.2'));
  });

  it('tells apart users, sessions, roles, scopes, clients and addresses', () => {
    const scopes = new Set([
      callerScope(ANONYMOUS),
      callerScope(alice),
      callerScope({ ...alice, userId: 'u2' }),
      callerScope({ ...alice, sessionId: 's2' }),
      callerScope({ ...alice, roles: ['USER', 'ADMIN'] }),
      callerScope({ ...alice, scopes: ['read'] }),
      callerScope({ ...alice, clientId: 'partner' }),
      callerScope(alice, '10.0.0.9'),
      callerScope({ userId: null, roles: [], scopes: ['read'], clientId: 'partner' }),
    ]);
    expect(scopes.size).toBe(9);
  });
});
