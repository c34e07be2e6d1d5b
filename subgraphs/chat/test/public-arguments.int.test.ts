/**
 * Whatever a client sends as arguments, the answer is a typed error or data,
 * never INTERNAL_SERVER_ERROR: every root field of the composed API (accounts,
 * media and chat behind the router) gets random and crafted values — NUL,
 * lone surrogates, bidi controls, zero-width text, extreme numbers, cursors
 * and ids that decode to impossible dates or times — as variables, sent
 * authenticated. It lives with chat because chat's tests may start the other
 * subgraphs as peers (and none of them depends on chat).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import { mediaSubgraph } from '@arcadia/media/testing';
import { ok, startSubgraphHarness, type SubgraphHarness, type TestUser } from '@arcadia/testing';
import { chatSubgraph, type ChatUnderTest } from '../src/testing.js';

let h: SubgraphHarness<ChatUnderTest>;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
let messageId: string;
let queryType: GraphQLObjectType;
let mutationType: GraphQLObjectType;

beforeAll(async () => {
  h = await startSubgraphHarness({
    subject: chatSubgraph(),
    peers: [accountsSubgraph(), mediaSubgraph()],
  });
  [alice, bob] = await Promise.all([h.signUp(), h.signUp()]);
  const started = ok(
    await h.request<{ startConversation: { id: string } }>(
      'mutation ($ids: [ID!]!) { startConversation(memberIds: $ids) { id } }',
      { token: alice.token, variables: { ids: [bob.id] } },
    ),
  );
  conversationId = started.startConversation.id;
  const sent = ok(
    await h.request<{ sendMessage: { id: string } }>(
      'mutation ($c: ID!) { sendMessage(conversationId: $c, text: "hi", clientMessageId: "k1") { id } }',
      { token: alice.token, variables: { c: conversationId } },
    ),
  );
  messageId = sent.sendMessage.id;
  const introspection = ok(await h.request<IntrospectionQuery>(getIntrospectionQuery()));
  const schema = buildClientSchema(introspection);
  queryType = schema.getQueryType()!;
  mutationType = schema.getMutationType()!;
}, 120_000);
afterAll(() => h?.stop(), 60_000);

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const hex = (uuid: string) => uuid.replace(/-/g, '');

/** A message id (`conversation uuid ‖ timeuuid`) whose timeuuid has the given 60-bit tick count. */
function messageIdAt(conversation: string, ticks: bigint): string {
  const t = ticks.toString(16).padStart(15, '0').slice(-15);
  const timeuuid = `${t.slice(7)}${t.slice(3, 7)}1${t.slice(0, 3)}8000${'0'.repeat(12)}`;
  return b64(Buffer.from(hex(conversation) + timeuuid, 'hex'));
}

/**
 * Values an attacker would try on a string or id argument: the two the
 * issue reports (NUL in an email, a list cursor with a date PostgreSQL
 * cannot hold) and their kin.
 */
function craftedStrings(): string[] {
  const uuid = randomUUID();
  return [
    '',
    'a\u0000b@example.com',
    '\u0000',
    '\ud800',
    'x\udfffy',
    'abc\u202egnp.exe',
    '\u200b\u200d\u2060',
    'x'.repeat(5000),
    alice.id,
    conversationId,
    messageId,
    uuid,
    // Conversation-list cursors (`ISO date|uuid`) at and past the edges of the calendar.
    b64(`+275760-09-13T00:00:00.000Z|${uuid}`),
    b64(`-271821-04-20T00:00:00.000Z|${uuid}`),
    b64(`-004714-11-23T00:00:00.000Z|${uuid}`),
    b64(`+294277-01-01T00:00:00.000Z|${uuid}`),
    b64(`0000-01-01T00:00:00.000Z|${conversationId}`),
    b64(`9999-12-31T23:59:59.999Z|${conversationId}`),
    b64(`2024-01-01|${conversationId}`),
    b64(`1e300|${uuid}`),
    // Message ids of a real conversation whose time is the first and last tick a timeuuid holds.
    messageIdAt(conversationId, 0n),
    messageIdAt(conversationId, (1n << 60n) - 1n),
    messageIdAt(uuid, (1n << 59n) + 12345n),
    b64(Buffer.alloc(32, 0xff)),
  ];
}

const codePoint = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }),
  fc.constantFrom(0x7f, 0x85, 0x200b, 0x200d, 0x202e, 0x2066, 0xfeff, 0xd800, 0xdbff, 0xdc00),
  fc.integer({ min: 0, max: 0x10ffff }),
);
/** Strings with a high share of the characters that break things. */
const nastyString = fc.oneof(
  fc.string(),
  fc.array(codePoint, { maxLength: 12 }).map((cps) =>
    // fromCharCode for the surrogate range, so halves stay lone.
    cps.map((cp) => (cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp))).join(''),
  ),
  fc.base64String({ maxLength: 64 }).map((s) => s.replace(/\+/g, '-').replace(/\//g, '_')),
  fc
    .tuple(fc.date({ noInvalidDate: true }), fc.uuid())
    .map(([d, u]) => b64(`${d.toISOString()}|${u}`)),
  fc.bigInt({ min: 0n, max: (1n << 60n) - 1n }).map((t) => messageIdAt(conversationId, t)),
);

/** An arbitrary for a value of an input type, its strings and ids drawn from `strings`. */
function valueOf(type: GraphQLInputType, strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  const value = presentValueOf(getNullableType<GraphQLInputType>(type), strings);
  return isNonNullType(type) ? value : fc.option(value, { nil: null, freq: 4 });
}

function presentValueOf(
  type: GraphQLInputType,
  strings: fc.Arbitrary<string>,
): fc.Arbitrary<unknown> {
  if (isListType(type)) return fc.array(valueOf(type.ofType, strings), { maxLength: 3 });
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => v.value));
  if (isInputObjectType(type)) {
    return fc.record(
      Object.fromEntries(
        Object.values(type.getFields()).map((f) => [f.name, valueOf(f.type, strings)]),
      ),
    );
  }
  if (isScalarType(type) && type.name === 'Int') {
    return fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 100, 101, 2 ** 31 - 1, -(2 ** 31)));
  }
  if (isScalarType(type) && type.name === 'Float') {
    return fc.double({ noNaN: true, noDefaultInfinity: true });
  }
  if (isScalarType(type) && type.name === 'Boolean') return fc.boolean();
  // String, ID and the custom scalars (DateTime, JSON) all arrive as strings.
  return strings;
}

/** A plain value of `type` with `value` in every string and id, and ordinary values elsewhere. */
function exampleOf(type: GraphQLInputType, value: string): unknown {
  const inner = getNullableType<GraphQLInputType>(type);
  if (isListType(inner)) return [exampleOf(inner.ofType, value)];
  if (isEnumType(inner)) return inner.getValues()[0]!.value;
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields()).map((f) => [f.name, exampleOf(f.type, value)]),
    );
  }
  if (isScalarType(inner) && inner.name === 'Int') return 1;
  if (isScalarType(inner) && inner.name === 'Float') return 1.5;
  if (isScalarType(inner) && inner.name === 'Boolean') return true;
  return value;
}

/** `field(a: $a, …) { __typename }` in an operation declaring the variables. */
function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const vars = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind} (${vars}) { ${field.name}(${args})${selection} }`;
}

/** The errors of a response that are INTERNAL_SERVER_ERROR, for a readable failure. */
function internalErrors(response: {
  status: number;
  errors?: { extensions?: { code?: unknown } }[];
}) {
  const internal = (response.errors ?? []).filter(
    (e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR',
  );
  return response.status >= 500 || internal.length ? { status: response.status, internal } : null;
}

describe('any argument a client sends', () => {
  it('answers every root field with data or a typed error, never INTERNAL_SERVER_ERROR', async () => {
    const crafted = craftedStrings();
    const strings = fc.oneof(
      { arbitrary: fc.constantFrom(...crafted), weight: 2 },
      { arbitrary: nastyString, weight: 3 },
    );
    const fields = (['query', 'mutation'] as const).flatMap((kind) =>
      Object.values((kind === 'query' ? queryType : mutationType).getFields())
        .filter((f) => f.args.length > 0)
        .map((field) => ({ kind, field })),
    );
    expect(fields.map((f) => f.field.name)).toEqual(
      expect.arrayContaining(['signIn', 'conversations', 'createImageUpload', 'sendMessage']),
    );
    // Every field is tried even after one fails, so one run shows all of them.
    const failures: string[] = [];
    for (const { kind, field } of fields) {
      const operation = operationFor(kind, field);
      const variables = fc.record(
        Object.fromEntries(field.args.map((a) => [a.name, valueOf(a.type, strings)])),
      );
      // Every crafted string in every string argument at least once, then random values.
      const examples = crafted.map((value) => [
        Object.fromEntries(field.args.map((a) => [a.name, exampleOf(a.type, value)])),
      ]) as [Record<string, unknown>][];
      const result = await fc.check(
        fc.asyncProperty(variables, async (values) => {
          const response = await h.request(operation, { token: alice.token, variables: values });
          expect(
            internalErrors(response),
            `${operation} with ${JSON.stringify(values)}`,
          ).toBeNull();
        }),
        { numRuns: examples.length + 10, examples, endOnFailure: true },
      );
      if (result.failed) failures.push(`${field.name}: ${fc.defaultReportMessage(result)}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
