/**
 * The SSE transport (GraphQL over SSE, distinct connections): the HTTP
 * request's token, queries answered as over HTTP in one event, refusals as
 * GraphQL errors in the stream, and one access log line per stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { eventually } from '@arcadia/testing';
import { postJson } from './fixtures.js';
import {
  completion,
  overSse,
  startNotesStack,
  type LoggedRouter,
  type NotesStack,
  type NotesInstance,
} from './transport-fixtures.js';

let stack: NotesStack;
let keys: KeyMaterial;
let notes: NotesInstance;
let router: LoggedRouter;

beforeAll(async () => {
  stack = await startNotesStack();
  ({ keys, notes, router } = stack);
});
afterAll(() => stack?.stop());

const accessLine = (operationName: string, transport = 'sse') =>
  router.accessLine(operationName, transport);

/** Posts `body` asking for an event stream; resolves to the status, headers and raw text. */
async function postEventStream(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(router.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('SSE transport', () => {
  it("refuses a bad token with HTTP's 401, body and challenge, logged once", async () => {
    const request = { query: 'query Refused { whoami }', operationName: 'Refused' };
    const auth = { authorization: 'Bearer not-a-token' };
    const http = await postJson(router.url, request, auth);
    const sse = await postEventStream(request, auth);
    expect(sse.status).toBe(401);
    expect(sse.headers.get('www-authenticate')).toBe(http.headers.get('www-authenticate'));
    expect(JSON.parse(sse.text)).toEqual(http.body);
    expect(await accessLine('Refused')).toMatchObject({
      status: 401,
      caller: null,
      outcome: 'error',
      errorCodes: ['UNAUTHENTICATED'],
    });
  });

  it('answers a query with the data and errors HTTP gives, in one event, then completes', async () => {
    const { token } = await createTokenSigner(keys.jwtKeys).sign(
      { userId: 'u3', roles: ['USER'], scopes: [] },
      300,
    );
    const request = { query: 'query Mixed { whoami secret note(id: "n1") { text } }' };
    const auth = { authorization: `Bearer ${token}` };
    const http = await postJson(router.url, request, auth);
    expect(http.body.data).toEqual({ whoami: 'u3', secret: null, note: { text: 'first' } });
    const sse = await completion(overSse(router.url, request, auth));
    sse.stop();
    expect(sse.error).toBeUndefined();
    expect(sse.results).toEqual([http.body]);
    expect(await accessLine('Mixed')).toMatchObject({
      caller: 'u3',
      status: 200,
      outcome: 'partial',
      errorCodes: ['FORBIDDEN'],
    });
  });

  it('carries the errors of an invalid operation in the stream, as graphql-sse does', async () => {
    const request = { query: 'query Invalid { nope }', operationName: 'Invalid' };
    const http = await postJson(router.url, request);
    const sse = await completion(overSse(router.url, request));
    sse.stop();
    expect(sse.results).toEqual([http.body]);
    expect(http.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await accessLine('Invalid')).toMatchObject({ status: 400, outcome: 'error' });
  });

  it('refuses a mutation over GET, as Apollo refuses it over HTTP', async () => {
    const query = 'mutation Sneaky { addNote(text: "from a link") { id } }';
    const res = await fetch(
      `${router.url}?operationName=Sneaky&query=${encodeURIComponent(query)}`,
      {
        headers: { accept: 'text/event-stream' },
      },
    );
    const text = await res.text();
    expect(text).toContain('GET requests only support query operations');
    expect(await accessLine('Sneaky')).toMatchObject({ status: 405, outcome: 'error' });
    const check = await postJson(router.url, { query: '{ note(id: "n2") { text } }' });
    expect(check.body.data.note?.text).not.toBe('from a link');
  });

  it('logs a subscription once, when the client leaves, with its lifetime', async () => {
    const watch = overSse(router.url, { query: 'subscription WatchSse { noteAdded { text } }' });
    await eventually(() => notes.activeSubscriptions === 1);
    notes.publish({ id: 'n20', text: 'streamed' });
    await eventually(() => watch.results.length === 1);
    expect(watch.results).toEqual([{ data: { noteAdded: { text: 'streamed' } } }]);
    // Still open: not logged yet.
    expect(router.accessLines('WatchSse')).toEqual([]);
    watch.stop();
    const line = await accessLine('WatchSse');
    expect(line).toMatchObject({
      operationType: 'subscription',
      status: 200,
      outcome: 'success',
      errorCodes: [],
    });
    await eventually(() => notes.activeSubscriptions === 0);
  });
});
