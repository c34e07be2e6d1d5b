/**
 * One operation path whatever the transport: an operation over graphql-ws
 * or SSE gets the limits, errors, access log line and request metrics it
 * gets over HTTP, the log line differing only in `transport`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner } from '@arcadia/auth';
import { postJson } from './fixtures.js';
import { metricValue } from './metrics-text.js';
import {
  completion,
  connectWs,
  overSse,
  overWs,
  startNotesStack,
  type LoggedRouter,
  type NotesStack,
} from './transport-fixtures.js';

let stack: NotesStack;
let router: LoggedRouter;
let token: string;

beforeAll(async () => {
  stack = await startNotesStack();
  ({ router } = stack);
  ({ token } = await createTokenSigner(stack.keys.jwtKeys).sign(
    { userId: 'u1', roles: ['USER'], scopes: [], clientId: 'studio-1' },
    300,
  ));
});
afterAll(() => stack?.stop());

/** The access log line of `operationName` over `transport`, once it is written. */
const accessLine = (operationName: string, transport: string) =>
  router.accessLine(operationName, transport);

let controls = 0;
/**
 * Checks that `operationName` has exactly `count` access log lines: a
 * control operation sent afterwards is logged first, so any late extra
 * line of `operationName` would be there by then.
 */
async function expectLines(operationName: string, count: number) {
  const control = `Control${++controls}`;
  await postJson(router.url, { query: `query ${control} { whoami }` });
  await accessLine(control, 'http');
  expect(router.accessLines(operationName)).toHaveLength(count);
}

/** A log line without what differs between two runs of one operation. */
function shape(line: Record<string, any>) {
  const { time: _time, requestId: _id, durationMs: _ms, transport: _transport, ...rest } = line;
  return rest;
}

/** The request metrics of `operation` with `outcome`. */
async function requestMetrics(operation: string, outcome: string) {
  const text = await router.metrics();
  return {
    requests: metricValue(text, 'graphql_requests_total', { operation, outcome }),
    durations: metricValue(text, 'graphql_request_duration_seconds_count', { operation }),
  };
}

const ADD_NOTE = 'mutation AddNote($text: String!) { addNote(text: $text) { text } }';
const bearer = () => ({ authorization: `Bearer ${token}` });

describe('one operation path', () => {
  it('a mutation over graphql-ws produces the same access log line and metrics as over HTTP', async () => {
    const before = await requestMetrics('AddNote', 'success');

    const http = await postJson(
      router.url,
      { query: ADD_NOTE, variables: { text: 'a' } },
      bearer(),
    );
    expect(http.body).toEqual({ data: { addNote: { text: 'a' } } });
    const httpLine = await accessLine('AddNote', 'http');
    const afterHttp = await requestMetrics('AddNote', 'success');

    const client = await connectWs(router.wsUrl, bearer());
    const ws = await completion(overWs(client, { query: ADD_NOTE, variables: { text: 'b' } }));
    await client.dispose();
    expect(ws.error).toBeUndefined();
    expect(ws.results).toEqual([{ data: { addNote: { text: 'b' } } }]);
    const wsLine = await accessLine('AddNote', 'ws');
    const afterWs = await requestMetrics('AddNote', 'success');

    expect(httpLine).toMatchObject({
      level: 'info',
      service: 'router',
      msg: 'graphql request',
      transport: 'http',
      operationName: 'AddNote',
      operationType: 'mutation',
      caller: 'u1',
      clientId: 'studio-1',
      status: 200,
      outcome: 'success',
      errorCodes: [],
    });
    expect(wsLine.transport).toBe('ws');
    expect(shape(wsLine)).toEqual(shape(httpLine));
    expect(Object.keys(wsLine).sort()).toEqual(Object.keys(httpLine).sort());
    expect(wsLine.durationMs).toBeGreaterThan(0);
    expect(wsLine.requestId).not.toBe(httpLine.requestId);

    // Each counted once, in the same series.
    expect(afterHttp).toEqual({ requests: before.requests + 1, durations: before.durations + 1 });
    expect(afterWs).toEqual({
      requests: afterHttp.requests + 1,
      durations: afterHttp.durations + 1,
    });
    await expectLines('AddNote', 2);
    expect(await requestMetrics('AddNote', 'success')).toEqual(afterWs);
  });

  it('a mutation over SSE produces the same access log line and metrics as over HTTP', async () => {
    const query = 'mutation AddNoteSse($text: String!) { addNote(text: $text) { text } }';
    const before = await requestMetrics('AddNoteSse', 'success');

    await postJson(router.url, { query, variables: { text: 'c' } }, bearer());
    const httpLine = await accessLine('AddNoteSse', 'http');
    const afterHttp = await requestMetrics('AddNoteSse', 'success');

    const sse = await completion(
      overSse(router.url, { query, variables: { text: 'd' } }, bearer()),
    );
    sse.stop();
    expect(sse.error).toBeUndefined();
    expect(sse.results).toEqual([{ data: { addNote: { text: 'd' } } }]);
    const sseLine = await accessLine('AddNoteSse', 'sse');
    const afterSse = await requestMetrics('AddNoteSse', 'success');

    expect(httpLine).toMatchObject({ transport: 'http', status: 200, outcome: 'success' });
    expect(sseLine.transport).toBe('sse');
    expect(shape(sseLine)).toEqual(shape(httpLine));
    expect(Object.keys(sseLine).sort()).toEqual(Object.keys(httpLine).sort());
    expect(afterHttp).toEqual({ requests: before.requests + 1, durations: before.durations + 1 });
    expect(afterSse).toEqual({
      requests: afterHttp.requests + 1,
      durations: afterHttp.durations + 1,
    });
    await expectLines('AddNoteSse', 2);
  });

  it('limits reject an over-deep query identically over HTTP, graphql-ws and SSE, counted once each', async () => {
    const query = `query TooDeep { note(id: "n1") { ${'next { '.repeat(15)}id${' }'.repeat(15)} } }`;
    // Refused before Apollo resolves the operation: it is logged under the name the client sent.
    const request = { query, operationName: 'TooDeep' };
    const counted = async () => (await requestMetrics('TooDeep', 'error')).requests;
    const start = await counted();

    const http = await postJson(router.url, request);
    expect(http.status).toBe(400);
    expect(http.body).toEqual({
      errors: [
        {
          message: 'Query depth limit of 15 exceeded, found 17.',
          extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth' },
        },
      ],
    });
    await accessLine('TooDeep', 'http');
    expect(await counted()).toBe(start + 1);

    const client = await connectWs(router.wsUrl);
    const ws = await completion(overWs(client, request));
    await client.dispose();
    // graphql-ws's `error` message: the errors of the refused operation.
    expect(ws.results).toEqual([]);
    expect(ws.error).toEqual(http.body.errors);
    await accessLine('TooDeep', 'ws');
    expect(await counted()).toBe(start + 2);

    const sse = await completion(overSse(router.url, request));
    sse.stop();
    // GraphQL over SSE carries a refused operation's errors as its one event.
    expect(sse.error).toBeUndefined();
    expect(sse.results).toEqual([http.body]);
    await accessLine('TooDeep', 'sse');
    expect(await counted()).toBe(start + 3);

    const lines = router.accessLines('TooDeep');
    expect(lines.map((line) => line.transport).sort()).toEqual(['http', 'sse', 'ws']);
    for (const line of lines) {
      expect(line).toMatchObject({
        operationName: 'TooDeep',
        operationType: null,
        status: 400,
        outcome: 'error',
        errorCodes: ['QUERY_TOO_COMPLEX'],
      });
      expect(shape(line)).toEqual(shape(lines[0]!));
    }
    await expectLines('TooDeep', 3);
    expect(await counted()).toBe(start + 3);
  });
});
