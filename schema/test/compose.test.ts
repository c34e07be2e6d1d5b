import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { composeSupergraph, CompositionError } from '../src/index.js';

const run = promisify(execFile);

describe('composition', () => {
  it('finds the committed supergraph up to date with every subgraph schema', async () => {
    const { stdout } = await run('npx', ['tsx', 'schema/compose.ts', '--check']);
    expect(stdout).toMatch(/up to date/);
  }, 60_000);

  it('reports every conflict between subgraphs instead of composing', () => {
    const a =
      'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])\ntype Query { a: Thing } type Thing @key(fields: "id") { id: ID! name: String! }';
    const b =
      'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])\ntype Query { b: Thing } type Thing @key(fields: "id") { id: ID! name: Int! }';
    expect(() =>
      composeSupergraph([
        { name: 'a', url: 'http://a/graphql', typeDefs: a },
        { name: 'b', url: 'http://b/graphql', typeDefs: b },
      ]),
    ).toThrow(CompositionError);
  });
});
