/**
 * The access log: one line and one set of request metrics per operation,
 * the same shape for every transport, and the HTTP handler that ends each
 * request's operation when its response is over.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@arcadia/observability';
import { eventually } from '@arcadia/testing';
import { createRouterMetrics, type RouterMetrics } from '../src/metrics.js';
import { newRequestRecord, recordErrorCode, type RequestRecord } from '../src/request-context.js';
import {
  createOperationLog,
  outcomeOf,
  requestLog,
  type OperationLog,
} from '../src/request-log.js';
import { jsonLineSink } from './fixtures.js';
import { metricValue } from './metrics-text.js';

/** An operation log writing into `lines` and fresh metrics. */
function capture(): { log: OperationLog; lines: Record<string, any>[]; metrics: RouterMetrics } {
  const { stream: destination, lines } = jsonLineSink();
  const metrics = createRouterMetrics();
  const log = createOperationLog({
    logger: createLogger('router', 'info', destination),
    metrics,
  });
  return { log, lines, metrics };
}

async function counts(metrics: RouterMetrics, operation: string, outcome: string) {
  const text = await metrics.registry.metrics();
  return {
    requests: metricValue(text, 'graphql_requests_total', { operation, outcome }),
    durations: metricValue(text, 'graphql_request_duration_seconds_count', { operation }),
  };
}

function record(transport: RequestRecord['transport'], fill: Partial<RequestRecord> = {}) {
  return Object.assign(newRequestRecord(`id-${transport}`, transport), {
    operationName: 'Op',
    operationType: 'query',
    caller: { userId: 'u1', roles: [], scopes: [], clientId: 'c1' },
    ...fill,
  });
}

describe('the operation log', () => {
  it('writes one line with the transport and the same fields for every transport', async () => {
    const { log, lines } = capture();
    for (const transport of ['http', 'ws', 'sse'] as const) log.finish(record(transport), 200);
    await eventually(() => lines.length === 3);
    expect(lines.map((l) => l.transport)).toEqual(['http', 'ws', 'sse']);
    for (const line of lines) {
      expect(line).toMatchObject({
        level: 'info',
        service: 'router',
        msg: 'graphql request',
        operationName: 'Op',
        operationType: 'query',
        caller: 'u1',
        clientId: 'c1',
        status: 200,
        outcome: 'success',
        errorCodes: [],
      });
      expect(line.durationMs).toBeGreaterThanOrEqual(0);
      expect(Object.keys(line).sort()).toEqual(Object.keys(lines[0]!).sort());
    }
  });

  it('ends an operation once, however often it is told', async () => {
    const { log, lines, metrics } = capture();
    const once = record('ws', { operationName: 'Once' });
    log.finish(once, 200);
    log.finish(once, 499);
    // Positive control: a later operation is logged after any second line of the first.
    log.finish(record('ws', { operationName: 'After' }), 200);
    await eventually(() => lines.some((l) => l.operationName === 'After'));
    expect(lines.filter((l) => l.operationName === 'Once')).toEqual([
      expect.objectContaining({ status: 200 }),
    ]);
    expect(await counts(metrics, 'Once', 'success')).toEqual({ requests: 1, durations: 1 });
    expect(await counts(metrics, 'Once', 'error')).toEqual({ requests: 0, durations: 1 });
  });

  it('tells success, partial data and errors apart', () => {
    const withErrors = record('http');
    recordErrorCode('FORBIDDEN', withErrors);
    expect(outcomeOf(200, record('http'))).toBe('success');
    expect(outcomeOf(200, { ...withErrors, hasData: true })).toBe('partial');
    expect(outcomeOf(200, withErrors)).toBe('error');
    expect(outcomeOf(400, record('http'))).toBe('error');
    expect(outcomeOf(499, record('ws'))).toBe('error');
  });
});

describe('the HTTP request log', () => {
  const { log, lines } = capture();
  let base: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = express();
    app.all('/graphql', requestLog(log), (req, res) => {
      const record = res.locals.record as RequestRecord;
      record.operationName = typeof req.query.name === 'string' ? req.query.name : null;
      if (req.query.html) {
        res.type('html').send('<html></html>');
      } else if (req.query.stream) {
        // A streaming transport settles the status itself.
        record.transport = 'sse';
        record.status = 200;
        res.write(': open\n\n');
      } else {
        res.status(Number(req.query.status ?? 200)).json({ data: {} });
      }
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    close = () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  });
  afterAll(() => close());

  const lineOf = (name: string) =>
    eventually(() => lines.find((l) => l.operationName === name), { what: `a line for ${name}` });

  it('logs a request once, with its id, status and transport', async () => {
    const res = await fetch(`${base}?name=Plain&status=400`, {
      headers: { 'x-request-id': 'req-1' },
    });
    expect(res.headers.get('x-request-id')).toBe('req-1');
    expect(await lineOf('Plain')).toMatchObject({
      requestId: 'req-1',
      transport: 'http',
      status: 400,
      outcome: 'error',
    });
  });

  it('logs neither preflights nor the Sandbox page', async () => {
    await fetch(`${base}?name=Preflight`, { method: 'OPTIONS' });
    await fetch(`${base}?name=Page&html=1`);
    // Positive control: logged after either would have been.
    await fetch(`${base}?name=Control`);
    await lineOf('Control');
    expect(lines.filter((l) => ['Preflight', 'Page'].includes(l.operationName))).toEqual([]);
  });

  it('logs a stream with the status its transport settled, when the client leaves', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}?name=Stream&stream=1`, { signal: abort.signal });
    expect(res.status).toBe(200);
    abort.abort();
    expect(await lineOf('Stream')).toMatchObject({ transport: 'sse', status: 200 });
  });
});
