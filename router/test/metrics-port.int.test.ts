/**
 * `/metrics` names operations, subgraphs and error rates: it is served on a
 * port of its own, on loopback by default, and not on the public port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRouterEnv } from '../src/index.js';
import { startNotesStack, type NotesStack } from './transport-fixtures.js';

let stack: NotesStack;
beforeAll(async () => {
  stack = await startNotesStack();
});
afterAll(() => stack?.stop());

describe('the metrics port', () => {
  it('is loopback port 9400 unless configured', () => {
    const config = parseRouterEnv({});
    expect({ port: config.METRICS_PORT, host: config.METRICS_HOST }).toEqual({
      port: 9400,
      host: '127.0.0.1',
    });
  });

  it('serves the request metrics, which the public port does not', async () => {
    const res = await fetch(stack.router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query Counted { note(id: "n1") { text } }' }),
    });
    expect(res.status).toBe(200);

    const publicMetrics = await fetch(new URL('/metrics', stack.router.url));
    expect(publicMetrics.status).toBe(404);
    expect(await publicMetrics.text()).not.toContain('graphql_requests_total');

    const metricsUrl = await stack.router.router.listenMetrics(0);
    expect(new URL(metricsUrl)).toMatchObject({ hostname: '127.0.0.1', pathname: '/metrics' });
    expect(await (await fetch(metricsUrl)).text()).toMatch(
      /graphql_requests_total\{[^}]*operation="Counted"[^}]*\} 1/,
    );
  });
});
