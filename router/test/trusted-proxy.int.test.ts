/**
 * The client address the router forwards to subgraphs (in the signed caller)
 * is what accounts' per-address sign-in limit counts: behind a trusted proxy
 * it is the `X-Forwarded-For` client, otherwise the TCP peer, whatever the
 * header says.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { startSubgraphHarness, type SubgraphHarness } from '@arcadia/testing';

const PER_ADDRESS = 3;
const SIGN_IN =
  'mutation ($e: String!) { signIn(email: $e, password: "wrong password!") { accessToken } }';
const harnesses: SubgraphHarness[] = [];
afterAll(() => Promise.all(harnesses.map((h) => h.stop())));

async function start(routerEnv: Record<string, string>) {
  const h = await startSubgraphHarness({
    subject: accountsSubgraph({ SIGN_IN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS) }),
    routerEnv: { MAX_CONNECTIONS_PER_CLIENT: '0', ...routerEnv },
  });
  harnesses.push(h);
  return h;
}

/** A wrong-password sign-in for a fresh email, as sent from `forwardedFor`; its error code. */
async function attempt(h: SubgraphHarness, forwardedFor: string) {
  const res = await h.request(SIGN_IN, {
    variables: { e: `spray.${randomUUID()}@example.com` },
    headers: { 'x-forwarded-for': forwardedFor },
  });
  return res.errors?.[0]?.extensions?.code as string | undefined;
}

describe('the client address behind a proxy', () => {
  it('counts sign-in attempts per X-Forwarded-For client when the proxy is trusted', async () => {
    const h = await start({ TRUSTED_PROXIES: '127.0.0.1' });
    for (let i = 0; i < PER_ADDRESS; i++)
      expect(await attempt(h, '203.0.113.7')).toBe('UNAUTHENTICATED');
    expect(await attempt(h, '203.0.113.7')).toBe('RATE_LIMITED');
    // Another client behind the same proxy is not blocked by the first.
    expect(await attempt(h, '203.0.113.8')).toBe('UNAUTHENTICATED');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const h = await start({});
    // Every attempt names another "client", but they all come from 127.0.0.1.
    for (let i = 0; i < PER_ADDRESS; i++)
      expect(await attempt(h, `198.51.100.${i + 1}`)).toBe('UNAUTHENTICATED');
    expect(await attempt(h, '198.51.100.200')).toBe('RATE_LIMITED');
  });
});
