/**
 * Two small federation 2 subgraphs for the router's tests: `accounts` owns
 * `User`, `inventory` owns `Item` and extends `User`, so one operation can
 * span both.
 */
import { Writable } from 'node:stream';
import { gql } from 'graphql-tag';
import { pino } from 'pino';
import type { KeyMaterial } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import { createLogger, type Logger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';

interface Item {
  id: string;
  name: string;
  ownerId: string;
}

const items: Item[] = [
  { id: '1', name: 'Controller', ownerId: 'u1' },
  { id: '2', name: 'Headset', ownerId: 'u1' },
  { id: '3', name: 'Console', ownerId: 'u2' },
];
const users: Record<string, { id: string; handle: string }> = {
  u1: { id: 'u1', handle: 'alice' },
  u2: { id: 'u2', handle: 'bob' },
};

/** The `inventory` subgraph: items, the caller as it sees it, and `User.inventory`. */
export function inventorySubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'inventory',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        item(id: ID!): Item
        items(first: Int): [Item!]!
        "The verified caller's user id, as the router signed it."
        whoami: String
        myRoles: [String!]!
        myRequestId: String!
        "Answers after the given milliseconds (router timeouts)."
        slow(ms: Int!): String!
        "Always refused with RATE_LIMITED, which makes the subgraph answer HTTP 429."
        limited: String
      }
      type Item @key(fields: "id") {
        id: ID!
        name: String!
        related: Item
        owner: User
      }
      type User @key(fields: "id") {
        id: ID!
        inventory: [Item!]!
      }
    `,
    resolvers: {
      Query: {
        item: (_: unknown, args: { id: string }) => items.find((i) => i.id === args.id) ?? null,
        items: (_: unknown, args: { first?: number }) => items.slice(0, args.first ?? items.length),
        whoami: (_: unknown, __: unknown, ctx: BaseContext) => ctx.caller.userId,
        myRoles: (_: unknown, __: unknown, ctx: BaseContext) => ctx.caller.roles,
        myRequestId: (_: unknown, __: unknown, ctx: BaseContext) => ctx.requestId,
        limited: () => {
          // A subgraph outside Arcadia's kit may answer a resolver error with
          // a non-2xx status; the router must still pass it through.
          throw new UserError(
            ErrorCode.RATE_LIMITED,
            'Slow down.',
            { retryAfterSeconds: 30 },
            { httpStatus: 429 },
          );
        },
        slow: async (_: unknown, args: { ms: number }) => {
          await new Promise((resolve) => setTimeout(resolve, args.ms));
          return 'done';
        },
      },
      Item: {
        related: (item: Item) => items.find((i) => i.id !== item.id) ?? null,
        owner: (item: Item) => ({ __typename: 'User', id: item.ownerId }),
      },
      User: {
        inventory: (user: { id: string }) => items.filter((i) => i.ownerId === user.id),
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('inventory', 'silent'),
    context: (base) => base,
  });
}

/** The `accounts` subgraph: owns `User` and its handle. */
export function accountsSubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'accounts',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        user(id: ID!): User
      }
      type User @key(fields: "id") {
        id: ID!
        handle: String!
      }
    `,
    resolvers: {
      Query: {
        user: (_: unknown, args: { id: string }) => users[args.id] ?? null,
      },
      User: {
        __resolveReference: (ref: { id: string }) => users[ref.id] ?? null,
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('accounts', 'silent'),
    context: (base) => base,
  });
}

/** A log destination whose JSON lines land in `lines`, parsed. */
export function jsonLineSink(): { stream: Writable; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, any>);
      }
      callback();
    },
  });
  return { stream, lines };
}

/** A logger whose JSON lines land in `lines`, for assertions on what the router logs. */
export function capturingLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const { stream, lines } = jsonLineSink();
  const logger = pino({ level: 'info', base: { service: 'router' } }, stream);
  return { logger, lines };
}

/** Posts a raw JSON body (or a string) to `url`. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Left as text: the assertion will show it.
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * The `tally` subgraph of the deduplication tests: every field counts its
 * executions per label (in `executions`) and answers after `ms`, so that
 * requests sent together are in flight together.
 */
export function tallySubgraph(keys: KeyMaterial, executions: Map<string, number>): SubgraphServer {
  const count = (label: string) => {
    const n = (executions.get(label) ?? 0) + 1;
    executions.set(label, n);
    return n;
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const counted = async (_: unknown, args: { label: string; ms: number }) => {
    const n = count(args.label);
    await pause(args.ms);
    return n;
  };
  return createSubgraphServer<BaseContext>({
    name: 'tally',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        "How many times this label was resolved, this one included; answers after ms."
        counted(label: String!, ms: Int!): Int!
        "The caller's user id and the label's count."
        mine(label: String!, ms: Int!): String!
        "Fails with NOT_FOUND after ms, counting the attempt."
        failing(label: String!, ms: Int!): Int
        "A few kilobytes, so that a shared body is more than one small chunk."
        bulk(label: String!, ms: Int!): [String!]!
      }
      type Mutation {
        bump(label: String!, ms: Int!): Int!
      }
    `,
    resolvers: {
      Query: {
        counted,
        mine: async (_: unknown, args: { label: string; ms: number }, ctx: BaseContext) =>
          `${ctx.caller.userId ?? 'anonymous'}:${await counted(_, args)}`,
        failing: async (_: unknown, args: { label: string; ms: number }) => {
          await counted(_, args);
          throw new UserError(ErrorCode.NOT_FOUND, 'Nothing here.');
        },
        bulk: async (_: unknown, args: { label: string; ms: number }) => {
          const n = await counted(_, args);
          return Array.from({ length: 200 }, (_unused, i) => `${args.label}:${n}:${i}`);
        },
      },
      Mutation: { bump: counted },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('tally', 'silent'),
    context: (base) => base,
  });
}
