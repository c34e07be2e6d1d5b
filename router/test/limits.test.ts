/**
 * The operation limits: one validation rule whose state lives in the
 * validation it runs in, and the token limit recorded on the request that
 * broke it rather than in a module-level side channel.
 */
import { ApolloServer } from '@apollo/server';
import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { ANONYMOUS } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createFormatError } from '../src/errors.js';
import { limitRule, queryLimits, type QueryLimits } from '../src/limits.js';
import {
  createContextBuilder,
  newRequestRecord,
  requestScope,
  type RouterContext,
} from '../src/request-context.js';

const schema = buildSchema(`
  type Query { node(id: ID): Node, a: Int, b: Int, c: Int }
  type Node { id: ID, name: String, next: Node }
`);

const limits: QueryLimits = {
  maxDepth: 4,
  maxAliases: 3,
  maxCost: 30,
  maxTokens: 60,
  maxRootFields: 2,
  maxDirectives: 3,
  maxIntrospectionDepth: 10,
  blockFieldSuggestions: false,
};
const rules = [...specifiedRules, limitRule(limits)];

/** The errors of validating `source` as Apollo does (standard rules, then the limits). */
function check(source: string) {
  return validate(schema, parse(source), rules).map((error) => ({
    message: error.message,
    ...error.extensions,
  }));
}

describe('the limit rule', () => {
  it('accepts an operation within every limit', () => {
    expect(check('{ node(id: "1") { id next { name } } a }')).toEqual([]);
  });

  it('refuses each broken limit with QUERY_TOO_COMPLEX naming the limit', () => {
    expect(check('{ node { next { next { next { next { id } } } } } }')).toContainEqual({
      message: 'Query depth limit of 4 exceeded, found 6.',
      code: 'QUERY_TOO_COMPLEX',
      limit: 'depth',
    });
    expect(check('{ node { x1: id x2: id x3: id x4: id } }')).toContainEqual(
      expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' }),
    );
    expect(
      check('{ node { id @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) } }'),
    ).toContainEqual(expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'directives' }));
    expect(check('{ a b c }')).toEqual([
      {
        message: 'Root field limit of 2 exceeded, found 3.',
        code: 'QUERY_TOO_COMPLEX',
        limit: 'rootFields',
      },
    ]);
    expect(
      check('{ node { next { id name next { id name } } n2: next { id name next { id name } } } }'),
    ).toContainEqual(expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' }));
  });

  it('counts root fields through fragments once each, leaving out __typename', () => {
    expect(check('{ __typename ...F ...F } fragment F on Query { a b }')).toEqual([]);
    expect(check('{ ...F ... on Query { c } } fragment F on Query { a b }')).toEqual([
      expect.objectContaining({ limit: 'rootFields' }),
    ]);
  });

  it('stops the other rules from walking a rejected operation', () => {
    // Also an unknown field: a rejected operation is not walked further.
    expect(check('{ a b c nope }')).toEqual([expect.objectContaining({ limit: 'rootFields' })]);
  });

  it('keeps no state from one validation to the next', () => {
    expect(check('{ a b c }')).toHaveLength(1);
    // Neither refused nor skipped because of the validation before.
    expect(check('{ a b }')).toEqual([]);
    expect(check('{ a zzz }')).toEqual([
      expect.objectContaining({ message: 'Cannot query field "zzz" on type "Query".' }),
    ]);
  });
});

describe('the introspection limit', () => {
  /** `{ __schema { types { <ofType nested n times> } } }`. */
  const ofTypeChain = (n: number) =>
    `{ __schema { types { ${'ofType { '.repeat(n)}name${' }'.repeat(n)} } } }`;

  it('refuses an introspection query nesting ofType deeper than the limit', () => {
    expect(check(ofTypeChain(50))).toEqual([
      {
        message: 'Introspection depth limit of 10 exceeded, found 50.',
        code: 'QUERY_TOO_COMPLEX',
        limit: 'introspectionDepth',
      },
    ]);
    // The same through __type (which the depth and cost limits count too) and a fragment spreading another.
    expect(
      check(`{ __type(name: "Node") { ...T } } fragment T on __Type { ${'ofType { '.repeat(6)}...U${' }'.repeat(6)} }
        fragment U on __Type { ${'ofType { '.repeat(6)}name${' }'.repeat(6)} }`),
    ).toContainEqual(
      expect.objectContaining({
        limit: 'introspectionDepth',
        message: expect.stringContaining('found 12'),
      }),
    );
  });

  it('accepts the standard introspection query of Sandbox and codegen, with every option', () => {
    expect(check(ofTypeChain(10))).toEqual([]);
    const all = {
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    };
    // Nine ofType levels deep, like Apollo Sandbox's and graphql-codegen's.
    expect(check(getIntrospectionQuery())).toEqual([]);
    expect(check(getIntrospectionQuery(all))).toEqual([]);
  });
});

describe('the token limit', () => {
  const { validationRules, plugins, parseOptions } = queryLimits(limits);
  const apollo = new ApolloServer<RouterContext>({
    typeDefs: 'type Query { a: Int }',
    resolvers: { Query: { a: () => 1 } },
    validationRules,
    parseOptions,
    plugins,
    formatError: createFormatError(createLogger('router', 'silent')),
  });
  const buildContext = createContextBuilder(() => Promise.resolve('signed'));
  afterAll(() => apollo.stop());

  /** Runs `query` as the router does: in its request's scope, with its record on the context. */
  async function run(query: string) {
    const record = newRequestRecord(`r-${Math.random()}`);
    const response = await requestScope.run(record, () =>
      apollo.executeOperation({ query }, { contextValue: buildContext(ANONYMOUS, record) }),
    );
    const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
    return { record, status: response.http.status, errors: body?.errors };
  }

  it('answers a document with too many tokens with QUERY_TOO_COMPLEX, noted on its own record', async () => {
    const [tooLong, broken] = await Promise.all([run(`{ ${'a '.repeat(100)}}`), run('{ a ')]);
    expect(tooLong.status).toBe(400);
    expect(tooLong.errors).toEqual([
      expect.objectContaining({
        message: 'Token limit of 60 exceeded.',
        extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'tokens' },
      }),
    ]);
    expect(tooLong.record.parseRejection?.extensions.limit).toBe('tokens');
    expect(tooLong.record.errorCodes).toEqual(['QUERY_TOO_COMPLEX']);
    // A plain syntax error beside it stays what it is.
    expect(broken.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(broken.record.parseRejection).toBeUndefined();
  });
});
