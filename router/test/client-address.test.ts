/**
 * Which address a request counts as coming from: the TCP peer, or what a
 * trusted proxy's `X-Forwarded-For` says; and that subgraphs get it signed.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Caller } from '@arcadia/auth';
import { clientAddressResolver } from '../src/connection-limits.js';
import { parseRouterEnv } from '../src/env.js';
import { createContextBuilder, newRequestRecord } from '../src/request-context.js';

/** A request from TCP peer `peer` with the given `X-Forwarded-For`. */
const request = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('the client address', () => {
  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const resolve = clientAddressResolver([]);
    expect(resolve(request('203.0.113.9'))).toBe('203.0.113.9');
    expect(resolve(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('comes from X-Forwarded-For when the peer is a trusted proxy', () => {
    const resolve = clientAddressResolver(['10.0.0.0/8', '192.0.2.7']);
    expect(resolve(request('10.1.2.3', '198.51.100.1'))).toBe('198.51.100.1');
    // Read from the right: what the client wrote itself before its own address is ignored.
    expect(resolve(request('10.1.2.3', '1.2.3.4, 198.51.100.1'))).toBe('198.51.100.1');
    // Several trusted hops are skipped.
    expect(resolve(request('10.1.2.3', '198.51.100.1, 192.0.2.7'))).toBe('198.51.100.1');
    // An IPv4-mapped IPv6 peer (a dual-stack socket) matches its IPv4 range.
    expect(resolve(request('::ffff:10.1.2.3', '198.51.100.1'))).toBe('198.51.100.1');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const resolve = clientAddressResolver(['10.0.0.0/8']);
    expect(resolve(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
    expect(resolve(request('10.1.2.3'))).toBe('10.1.2.3');
  });

  it('is configured by TRUSTED_PROXIES, which refuses what is not an address or range', () => {
    expect(parseRouterEnv({}).TRUSTED_PROXIES).toEqual([]);
    expect(parseRouterEnv({ TRUSTED_PROXIES: '10.0.0.0/8, ::1' }).TRUSTED_PROXIES).toEqual([
      '10.0.0.0/8',
      '::1',
    ]);
    expect(() => parseRouterEnv({ TRUSTED_PROXIES: 'proxy.internal' })).toThrow(/TRUSTED_PROXIES/);
  });

  it('reaches subgraphs in the signed caller header', async () => {
    const signed: Caller[] = [];
    const build = createContextBuilder(async (caller) => {
      signed.push(caller);
      return 'signed';
    });
    const context = build(ANONYMOUS, newRequestRecord('req-1', 'http', '198.51.100.1'));
    await context.signedCaller({ audience: 'accounts', request: {} });
    expect(signed).toEqual([{ ...ANONYMOUS, clientAddress: '198.51.100.1' }]);
    // The context's own caller stays what the token said.
    expect(context.caller).toBe(ANONYMOUS);
  });
});
