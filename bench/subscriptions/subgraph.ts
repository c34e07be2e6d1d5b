/**
 * The two subgraphs the subscriptions benchmark federates, both served from
 * one child process: `ticks` owns `Subscription.ticks`, fed by Redis pub/sub
 * through @arcadia/pubsub, and `users` owns the `User` entity that every tick
 * references, so each event makes the gateway run a query plan (an
 * `_entities` fetch to `users`) before it reaches a client.
 *
 * Imported by the harness for the schemas; run as a process (with an IPC
 * channel) it listens and answers `stats` messages with its counters.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { printSubgraphSchema, buildSubgraphSchema } from '@apollo/subgraph';
import { loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createPubSub, type TypedPubSub } from '@arcadia/pubsub';
import { createSubgraphServer, type BaseContext } from '@arcadia/subgraph-kit';
import { gql } from 'graphql-tag';

/** What the harness publishes for each tick. */
export interface TickEvent {
  /** 0, 1, 2… for measured events; negative for warm-up events. */
  seq: number;
  /** Publish time, ms since the epoch with sub-ms precision (timeOrigin + now()). */
  sentAt: number;
  payload: string;
  authorId: string;
}

/** The pub/sub trigger of a channel. */
export const tickTrigger = (channel: string) => `ticks:${channel}`;

const link =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])';

/**
 * With `shared`, `Subscription.ticks` carries Arcadia's `@shared` directive
 * (composed into the supergraph): its events are the same for every caller,
 * so the router may open one upstream subscription for all clients and
 * resolve each event once. Other gateways ignore the directive.
 */
export function ticksTypeDefs(shared: boolean) {
  if (!shared) {
    return gql`
      ${link}

      type Subscription {
        ticks(channel: ID!): Tick!
      }
      ${tickTypes}
    `;
  }
  return gql`
    extend schema
      @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@composeDirective"])
      @link(url: "https://arcadia.dev/directives/v1.0", import: ["@shared"])
      @composeDirective(name: "@shared")

    "Events of this subscription are the same for every caller."
    directive @shared on FIELD_DEFINITION

    type Subscription {
      ticks(channel: ID!): Tick! @shared
    }
    ${tickTypes}
  `;
}

const tickTypes = `
  type Tick {
    seq: Int!
    sentAt: Float!
    payload: String!
    author: User!
  }

  type User @key(fields: "id", resolvable: false) {
    id: ID!
  }
`;

/**
 * `User.name` carries Arcadia's `@shared` directive: a user's name is the
 * same whoever asks, so the router may fetch it once, as the anonymous
 * caller, for every subscriber an event reaches, also when the
 * subscription itself is per caller (`--shared no`). Other gateways ignore
 * the directive (Hive fetches as one anonymous caller for everyone anyway).
 */
export const usersTypeDefs = gql`
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@composeDirective"])
    @link(url: "https://arcadia.dev/directives/v1.0", import: ["@shared"])
    @composeDirective(name: "@shared")

  "Values of this field are the same for every caller."
  directive @shared on FIELD_DEFINITION

  type Query {
    user(id: ID!): User
  }

  type User @key(fields: "id") {
    id: ID!
    name: String! @shared
  }
`;

/** What the subgraph process counts, for the report. */
export interface SubgraphStats {
  /** `ticks` subscriptions open right now (one per upstream subscribe the gateway made). */
  activeSubscriptions: number;
  /** Most `ticks` subscriptions open at once. */
  peakSubscriptions: number;
  /** `ticks` subscriptions opened in total. */
  subscriptionsOpened: number;
  /** Tick events the `ticks` subgraph resolved (summed over its subscriptions). */
  ticksResolved: number;
  /** HTTP requests the `users` subgraph served (entity fetches of the query plans). */
  usersRequests: number;
  /** `User` references resolved by `users`. */
  usersResolved: number;
}

/** SDL of both subgraphs as composition sees it. */
export function subgraphSdls(shared: boolean): { ticks: string; users: string } {
  return {
    ticks: printSubgraphSchema(buildSubgraphSchema([{ typeDefs: ticksTypeDefs(shared) }])),
    users: printSubgraphSchema(buildSubgraphSchema([{ typeDefs: usersTypeDefs }])),
  };
}

/** Wraps an async iterator to count it as an open subscription until it is returned. */
function counted<T>(inner: AsyncIterator<T>, stats: SubgraphStats): AsyncIterableIterator<T> {
  stats.activeSubscriptions++;
  stats.subscriptionsOpened++;
  stats.peakSubscriptions = Math.max(stats.peakSubscriptions, stats.activeSubscriptions);
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      stats.activeSubscriptions--;
    }
  };
  return {
    next: () => inner.next(),
    async return(value?: unknown) {
      finish();
      return (await inner.return?.(value)) ?? { done: true, value: undefined as T };
    },
    async throw(error?: unknown) {
      finish();
      if (inner.throw) return inner.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function main() {
  const env = (name: string) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is required`);
    return v;
  };
  const logger = createLogger('bench-subgraphs', 'warn');
  const keys = await loadKeyMaterial({ localFile: join(env('ARCADIA_HOME'), 'keys.json') });
  const pubsub: TypedPubSub<Record<string, TickEvent>> = createPubSub({
    redisUrl: env('REDIS_URL'),
    prefix: env('PUBSUB_PREFIX'),
  });
  const stats: SubgraphStats = {
    activeSubscriptions: 0,
    peakSubscriptions: 0,
    subscriptionsOpened: 0,
    ticksResolved: 0,
    usersRequests: 0,
    usersResolved: 0,
  };

  const ticks = createSubgraphServer<BaseContext>({
    name: 'ticks',
    typeDefs: ticksTypeDefs(process.env.TICKS_SHARED === 'yes'),
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => base,
    resolvers: {
      Subscription: {
        ticks: {
          subscribe: (_: unknown, args: { channel: string }) =>
            counted(pubsub.subscribe(tickTrigger(args.channel)), stats),
          resolve: (event: TickEvent) => {
            stats.ticksResolved++;
            return event;
          },
        },
      },
      Tick: {
        author: (event: TickEvent) => ({ __typename: 'User', id: event.authorId }),
      },
    },
  });

  const users = createSubgraphServer<BaseContext>({
    name: 'users',
    typeDefs: usersTypeDefs,
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => {
      stats.usersRequests++;
      return base;
    },
    resolvers: {
      Query: {
        user: (_: unknown, args: { id: string }) => ({ id: args.id, name: `Player ${args.id}` }),
      },
      User: {
        __resolveReference: (ref: { id: string }) => {
          stats.usersResolved++;
          return { id: ref.id, name: `Player ${ref.id}` };
        },
      },
    },
  });

  const ticksUrl = await ticks.listen(Number(env('TICKS_PORT')), '127.0.0.1');
  const usersUrl = await users.listen(Number(env('USERS_PORT')), '127.0.0.1');

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await Promise.allSettled([ticks.close(), users.close()]);
    await pubsub.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  // The harness went away: nothing left to serve.
  process.on('disconnect', () => void close());
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stats') process.send?.({ type: 'stats', stats });
  });
  process.send?.({ type: 'ready', ticksUrl, usersUrl });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
