/**
 * A null in a non-null position, propagated by the gateway, always comes
 * with an error naming where it came from: two subgraphs, `accounts`
 * (owning `User`, which resolves a reference to an unknown id to null) and
 * `roster`, which refers to a user accounts does not have.
 */
import { gql } from 'graphql-tag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext } from '@arcadia/subgraph-kit';
import { startSupergraph, testKeyMaterial, type TestSupergraph } from '@arcadia/testing';
import { accountsSubgraph } from './fixtures.js';

/** `roster`: lists of users by id, one of whom (`ghost`) accounts has never heard of. */
function rosterSubgraph(keys: KeyMaterial) {
  const team = { name: 'Raid', members: [{ id: 'u1' }, { id: 'ghost' }] };
  return createSubgraphServer<BaseContext>({
    name: 'roster',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        "Every member, non-null all the way up."
        roster: [User!]!
        "A team, nullable: a null below stops here."
        team: Team
        "Only known users."
        known: [User!]!
      }
      "A team."
      type Team {
        name: String!
        members: [User!]!
      }
      type User @key(fields: "id", resolvable: false) {
        id: ID!
      }
    `,
    resolvers: {
      Query: {
        roster: () => team.members,
        team: () => team,
        known: () => [{ id: 'u1' }, { id: 'u2' }],
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('roster', 'silent'),
    context: (base) => base,
  });
}

let supergraph: TestSupergraph;
beforeAll(async () => {
  const keys = await testKeyMaterial();
  supergraph = await startSupergraph({
    subgraphs: [accountsSubgraph(keys), rosterSubgraph(keys)],
    keys,
  });
});
afterAll(() => supergraph?.stop());

describe('nulls the gateway propagates', () => {
  it('answers data null with a NOT_FOUND error at the field that came back null', async () => {
    const res = await supergraph.request('{ roster { id handle } }');
    expect(res.status).toBe(200);
    expect(res.data).toBeNull();
    expect(res.errors).toEqual([
      {
        message: expect.stringMatching(/^Cannot return null for non-nullable field User\.handle/),
        path: ['roster', 1, 'handle'],
        extensions: { code: 'NOT_FOUND' },
      },
    ]);
    // The gateway's own report, with its internal code, does not leak.
    expect(res).not.toHaveProperty('extensions');
  });

  it('keeps the data above the nearest nullable field and still says why it is null', async () => {
    const res = await supergraph.request('{ team { name members { handle } } known { handle } }');
    expect(res.data).toEqual({ team: null, known: [{ handle: 'alice' }, { handle: 'bob' }] });
    expect(res.errors).toEqual([
      expect.objectContaining({
        path: ['team', 'members', 1, 'handle'],
        extensions: { code: 'NOT_FOUND' },
      }),
    ]);
  });

  it('adds nothing when every reference resolves', async () => {
    const res = await supergraph.request('{ known { id handle } }');
    expect(res).toEqual({
      status: 200,
      data: {
        known: [
          { id: 'u1', handle: 'alice' },
          { id: 'u2', handle: 'bob' },
        ],
      },
    });
  });
});
