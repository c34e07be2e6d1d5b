/**
 * Chat's question to accounts, against a stand-in accounts on a free port:
 * which ids exist, asked once with a signed header bound to accounts and the
 * request, and SERVICE_UNAVAILABLE whenever the answer does not come.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, createCallerVerifier, type Caller } from '@arcadia/auth';
import { UserError } from '@arcadia/errors';
import { createAccountsDirectory } from '../src/accounts-client.js';

const SECRETS = ['accounts-client-test-secret-of-enough-length'];
const alice: Caller = {
  userId: 'a1b2c3d4-0000-4000-8000-000000000001',
  roles: ['USER'],
  scopes: [],
};
const known = new Set(['11111111-1111-4111-8111-111111111111']);

type Handler = (req: IncomingMessage, body: any, res: ServerResponse) => void | Promise<void>;
let handler: Handler;
let server: Server;
let url: string;
const requests: { caller: Caller; body: any }[] = [];

beforeAll(async () => {
  const verify = createCallerVerifier(SECRETS);
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text);
      void (async () => {
        const caller = await verify(req.headers[CALLER_HEADER] as string, {
          audience: 'accounts',
          request: body,
        });
        requests.push({ caller, body });
        await handler(req, body, res);
      })().catch(() => {
        res.statusCode = 401;
        res.end('{}');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

/** Accounts as it answers: `_entities` in order, null for an unknown id. */
const accounts: Handler = (_req, body, res) => {
  const reps = body.variables.r as { id: string }[];
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      data: { _entities: reps.map((r) => (known.has(r.id) ? { id: r.id } : null)) },
    }),
  );
};

const directory = (timeoutMs = 2000) =>
  createAccountsDirectory({ url, internalSecrets: SECRETS, timeoutMs });

async function unavailable(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).extensions).toMatchObject({
    code: 'SERVICE_UNAVAILABLE',
    dependency: 'accounts',
  });
}

describe('asking accounts which users exist', () => {
  it('answers the ids accounts knows, in one signed request on behalf of the caller', async () => {
    handler = accounts;
    requests.length = 0;
    const ghost = '22222222-2222-4222-8222-222222222222';
    const [real] = [...known];
    const found = await directory().existing([real!, ghost, real!], alice);
    expect(found).toEqual(new Set([real]));
    expect(requests).toHaveLength(1);
    expect(requests[0]!.caller.userId).toBe(alice.userId);
    expect(requests[0]!.body.variables.r).toEqual([
      { __typename: 'User', id: real },
      { __typename: 'User', id: ghost },
    ]);
  });

  it('asks nothing for no ids', async () => {
    requests.length = 0;
    expect(await directory().existing([], alice)).toEqual(new Set());
    expect(requests).toHaveLength(0);
  });

  it('is SERVICE_UNAVAILABLE when accounts is slower than the timeout', async () => {
    handler = (_req, _body, res) => void setTimeout(() => res.end('{}'), 1000);
    const started = Date.now();
    await unavailable(directory(200).existing([...known], alice));
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('is SERVICE_UNAVAILABLE for a failed status, errors instead of data, or nobody listening', async () => {
    handler = (_req, _body, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    };
    await unavailable(directory().existing([...known], alice));
    handler = (_req, _body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: null, errors: [{ message: 'Unexpected error.' }] }));
    };
    await unavailable(directory().existing([...known], alice));
    const closed = createAccountsDirectory({
      url: 'http://127.0.0.1:1/graphql',
      internalSecrets: SECRETS,
      timeoutMs: 2000,
    });
    await unavailable(closed.existing([...known], alice));
  });
});
