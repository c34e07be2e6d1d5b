import { gql } from 'graphql-tag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, createCallerSigner } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext } from '../src/index.js';

const secrets = ['kit-secret'];
// The resolver records what reached it: a refused argument must never get there.
const reached: unknown[] = [];
const server = createSubgraphServer<BaseContext>({
  name: 'kit',
  typeDefs: gql`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
    input Note {
      tags: [String!]!
    }
    type Query {
      echo(text: String, note: Note): String
    }
  `,
  resolvers: {
    Query: {
      echo: (_: unknown, args: { text?: string; note?: { tags: string[] } }) => {
        reached.push(args);
        return args.text ?? args.note?.tags.join(',') ?? null;
      },
    },
  },
  internalSecrets: secrets,
  logger: createLogger('kit', 'silent'),
  context: (base) => base,
});
let url = '';
beforeAll(async () => {
  url = await server.listen(0);
});
afterAll(() => server.close());

async function echo(variables: Record<string, unknown>) {
  const request = {
    query: 'query ($text: String, $note: Note) { echo(text: $text, note: $note) }',
    variables,
  };
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [CALLER_HEADER]: await createCallerSigner(secrets)(
        { userId: null, roles: [], scopes: [] },
        { audience: server.name, request },
      ),
    },
    // JSON.stringify writes a lone surrogate as `\ud800`, which JSON.parse on the server
    // turns back into a lone surrogate: exactly what a hostile client sends.
    body: JSON.stringify(request),
  });
  return (await res.json()) as { data?: any; errors?: any[] };
}

describe('argument strings', () => {
  it.each([
    ['a NUL', { text: 'a\u0000b@example.com' }, 'text', '`text`'],
    ['a lone high surrogate', { text: 'x\ud800' }, 'text', '`text`'],
    ['a lone low surrogate', { text: '\udfffx' }, 'text', '`text`'],
    ['a NUL deep in an input', { note: { tags: ['ok', 'b\u0000d'] } }, 'note', '`note.tags[1]`'],
  ])('refuses %s with BAD_USER_INPUT naming the argument', async (_, variables, field, path) => {
    reached.length = 0;
    const body = await echo(variables);
    expect(body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(body.errors?.[0].message).toContain(path);
    expect(reached).toEqual([]);
  });

  it('accepts any well-formed text, astral characters and controls included', async () => {
    const text = 'emoji 😀 𝄞, tab\t, RTL עברית, bidi \u202e';
    expect(await echo({ text })).toEqual({ data: { echo: text } });
  });
});
