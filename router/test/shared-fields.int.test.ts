/**
 * `@shared` entity fields (issue 11): an entity fetch that selects only
 * fields its subgraph marked `@shared` runs as the anonymous caller, so the
 * same fetch of many users in flight at once is sent once; a subscription
 * event whose remaining fetches are all shared is resolved once for every
 * caller's pipeline that received it. A fetch selecting anything else runs
 * as the user, and each user gets their own answer.
 *
 * Two subgraphs: `posts` (posts, and a per-user subscription, both naming
 * their author) and `people`, which owns `User` with a shared `name` and a
 * caller-dependent `secretNote`, and records every `_entities` operation
 * with the caller it ran as. Where sharing depends on fetches being in
 * flight together, `people` holds its answers until the test has seen every
 * sharer arrive (a router metric or `people` itself), never for a fixed time.
 */
import { createClient, type Client } from 'graphql-ws';
import { gql } from 'graphql-tag';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createLogger } from '@arcadia/observability';
import { createPubSub, type PubSubSubscription, type TypedPubSub } from '@arcadia/pubsub';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';
import {
  eventually,
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type TestSupergraph,
} from '@arcadia/testing';
import { metricValue } from './metrics-text.js';

const { REDIS_URL } = parseEnv('router-shared-fields-test', servicesEnv.redis);

const names: Record<string, string> = {
  u1: 'Alice',
  u2: 'Bob',
  u3: 'Carol',
  u4: 'Dan',
  u5: 'Erin',
};
const USERS = Object.keys(names);

/** What `people` saw of one `_entities` operation: who it ran as and which users it resolved. */
interface EntityOperation {
  readonly caller: string;
  readonly ids: string[];
}

/** Every `_entities` operation `people` resolved since the current test began. */
const entityOperations: EntityOperation[] = [];

/** While set, `people` answers no entity until it resolves (see {@link holdPeople}). */
let gate: Promise<void> | undefined;

/** Makes `people` hold every entity until the returned function is called. */
function holdPeople(): () => void {
  let release!: () => void;
  gate = new Promise<void>((resolve) => (release = resolve));
  return () => {
    gate = undefined;
    release();
  };
}

interface PeopleContext extends BaseContext {
  /** This operation's record, added to {@link entityOperations} at its first entity. */
  readonly operation: EntityOperation;
}

/** A note only its caller may read: a different answer for every caller, none for anonymous ones. */
const noteOf = (viewer: string, about: string) => `note of ${viewer} on ${about}`;

function peopleSubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<PeopleContext>({
    name: 'people',
    typeDefs: gql`
      extend schema
        @link(
          url: "https://specs.apollo.dev/federation/v2.7"
          import: ["@key", "@composeDirective"]
        )
        @link(url: "https://arcadia.dev/directives/v1.0", import: ["@shared"])
        @composeDirective(name: "@shared")
      "Values of this field are the same for every caller."
      directive @shared on FIELD_DEFINITION
      type User @key(fields: "id") {
        id: ID!
        name: String! @shared
        "The caller's own note about this user; null for anonymous callers."
        secretNote: String
      }
    `,
    resolvers: {
      User: {
        __resolveReference: async (ref: { id: string }, ctx: PeopleContext) => {
          if (ctx.operation.ids.length === 0) entityOperations.push(ctx.operation);
          ctx.operation.ids.push(ref.id);
          await gate;
          return ref;
        },
        name: (user: { id: string }) => names[user.id] ?? 'Unknown',
        secretNote: (user: { id: string }, _: unknown, ctx: PeopleContext) =>
          ctx.caller.userId ? noteOf(ctx.caller.userId, user.id) : null,
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('people', 'silent'),
    context: (base) => ({
      ...base,
      operation: { caller: base.caller.userId ?? 'anonymous', ids: [] },
    }),
  });
}

interface Post {
  id: string;
  author: { id: string };
}

type PostEvents = { [feed: `feed:${string}`]: { postEvents: Post } };

const posts: Post[] = [
  { id: 'p1', author: { id: 'u1' } },
  { id: 'p2', author: { id: 'u2' } },
];

/** `postEvents` subscriptions `posts` serves per feed, counted once Redis confirmed them. */
const activeFeeds = new Map<string, number>();

/** Counts `events` in {@link activeFeeds} from its SUBSCRIBE's confirmation until it ends. */
function counted<T>(events: PubSubSubscription<T>, feed: string): AsyncIterableIterator<T> {
  let counting = false;
  let ended = false;
  const add = (n: number) => activeFeeds.set(feed, (activeFeeds.get(feed) ?? 0) + n);
  void events.subscribed.then(
    () => {
      if (ended) return;
      counting = true;
      add(1);
    },
    // Only when the pub/sub closed first; the subscription then ends by itself.
    () => undefined,
  );
  return {
    next: () => events.next(),
    return: () => {
      ended = true;
      if (counting) add(-1);
      counting = false;
      return events.return?.() ?? Promise.resolve({ done: true as const, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function postsSubgraph(keys: KeyMaterial, pubsub: TypedPubSub<PostEvents>): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'posts',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        posts: [Post!]!
      }
      type Subscription {
        "New posts of a feed, as the caller follows it: one upstream per caller (not @shared)."
        postEvents(feed: ID!): Post!
      }
      type Post {
        id: ID!
        author: User!
      }
      type User @key(fields: "id", resolvable: false) {
        id: ID!
      }
    `,
    resolvers: {
      Query: { posts: () => posts },
      Subscription: {
        postEvents: {
          subscribe: (_: unknown, args: { feed: string }) =>
            counted(pubsub.subscribe(`feed:${args.feed}`), args.feed),
        },
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('posts', 'silent'),
    context: (base) => base,
  });
}

let keys: KeyMaterial;
let pubsub: TypedPubSub<PostEvents>;
let supergraph: TestSupergraph;
let metricsUrl: string;
let wsUrl: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  keys = await testKeyMaterial();
  pubsub = createPubSub<PostEvents>({
    redisUrl: REDIS_URL,
    prefix: uniqueName('shared-fields'),
    logger: createLogger('posts', 'silent'),
  });
  supergraph = await startSupergraph({
    subgraphs: [postsSubgraph(keys, pubsub), peopleSubgraph(keys)],
    keys,
  });
  metricsUrl = await supergraph.router.listenMetrics(0);
  wsUrl = supergraph.url.replace(/^http/, 'ws');
  const signer = createTokenSigner(keys.jwtKeys);
  for (const userId of USERS) {
    const { token } = await signer.sign({ userId, roles: ['USER'], scopes: [] }, 300);
    tokens.set(userId, token);
  }
});

afterAll(async () => {
  await supergraph?.stop();
  await pubsub?.close();
});

/** The router's metric `name` with `labels`. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  return metricValue(await (await fetch(metricsUrl)).text(), name, labels);
}

/** Fetches to `people` that joined an identical one in flight instead of being sent. */
const sharedPeopleFetches = () =>
  metric('router_deduplicated_subgraph_fetches_total', { service: 'people' });

/** Events the router received from `posts`, summed over its upstream subscriptions. */
const postsEventsIn = () => metric('subscription_events_in_total', { service: 'posts' });

/** A signed-in graphql-ws client of the router. */
function clientOf(userId: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${tokens.get(userId)!}` },
    onNonLazyError: () => {},
  });
}

/** Subscribes and collects every `next` payload (and an error, should one come). */
function subscribe(client: Client, query: string, variables: Record<string, unknown>) {
  const events: any[] = [];
  const errors: unknown[] = [];
  const unsubscribe = client.subscribe(
    { query, variables },
    { next: (value) => events.push(value), error: (e) => errors.push(e), complete: () => {} },
  );
  return { events, errors, unsubscribe };
}

/** One signed-in subscriber per user in {@link USERS}, on a fresh feed, once `posts` serves them all. */
async function subscribeEveryone(query: string) {
  const feed = uniqueName('feed');
  const subscribers = USERS.map((userId) => {
    const client = clientOf(userId);
    return { userId, client, ...subscribe(client, query, { feed }) };
  });
  // One upstream per caller, each confirmed by Redis: an event published now reaches them all.
  await eventually(() => activeFeeds.get(feed) === USERS.length, {
    what: () => `${USERS.length} postEvents subscriptions, got ${activeFeeds.get(feed) ?? 0}`,
  });
  const dispose = async () => {
    for (const s of subscribers) s.unsubscribe();
    await Promise.all(
      subscribers.map(async (s) => {
        await s.client.dispose();
      }),
    );
  };
  return { feed, subscribers, dispose };
}

const callers = () => entityOperations.map((op) => op.caller).sort();

describe('@shared entity fields in queries', () => {
  it('fetches shared fields once as the anonymous caller for users querying them at the same time', async () => {
    entityOperations.length = 0;
    const sharedBefore = await sharedPeopleFetches();
    const release = holdPeople();
    const query = '{ posts { id author { name } } }';
    let responses: Awaited<ReturnType<TestSupergraph['request']>>[];
    try {
      const pending = Promise.all(
        ['u1', 'u2'].map((userId) => supergraph.request(query, { token: tokens.get(userId)! })),
      );
      // Both users' name fetches are in flight: joined into one, or (were they
      // not shared) both at `people`. Only then does `people` answer.
      await eventually(
        async () =>
          entityOperations.length >= 2 ||
          (entityOperations.length === 1 && (await sharedPeopleFetches()) - sharedBefore >= 1),
        {
          what: () => `both name fetches in flight, people saw ${JSON.stringify(entityOperations)}`,
        },
      );
      release();
      responses = await pending;
    } finally {
      release();
    }
    for (const response of responses) {
      expect(response).toEqual({
        status: 200,
        data: {
          posts: [
            { id: 'p1', author: { name: 'Alice' } },
            { id: 'p2', author: { name: 'Bob' } },
          ],
        },
      });
    }
    expect(entityOperations).toEqual([{ caller: 'anonymous', ids: ['u1', 'u2'] }]);
    expect((await sharedPeopleFetches()) - sharedBefore).toBe(1);
  });

  it('fetches a selection with a field that is not shared as each user, who gets only their own note', async () => {
    entityOperations.length = 0;
    const query = '{ posts { id author { name secretNote } } }';
    const [alice, bob] = await Promise.all(
      ['u1', 'u2'].map((userId) => supergraph.request(query, { token: tokens.get(userId)! })),
    );
    for (const [response, viewer] of [
      [alice, 'u1'],
      [bob, 'u2'],
    ] as const) {
      expect(response).toEqual({
        status: 200,
        data: {
          posts: [
            { id: 'p1', author: { name: 'Alice', secretNote: noteOf(viewer, 'u1') } },
            { id: 'p2', author: { name: 'Bob', secretNote: noteOf(viewer, 'u2') } },
          ],
        },
      });
    }
    expect(callers()).toEqual(['u1', 'u2']);
    expect(entityOperations.every((op) => op.ids.join() === 'u1,u2')).toBe(true);
  });
});

describe('@shared entity fields in per-user subscriptions', () => {
  it('resolves an event whose entity fetch is shared once for every user receiving it', async () => {
    const { feed, subscribers, dispose } = await subscribeEveryone(
      'subscription Feed($feed: ID!) { postEvents(feed: $feed) { id author { name } } }',
    );
    try {
      for (const [n, author] of [
        [1, 'u2'],
        [2, 'u3'],
      ] as const) {
        entityOperations.length = 0;
        const eventsBefore = await postsEventsIn();
        const sharedBefore = await sharedPeopleFetches();
        const release = holdPeople();
        try {
          await pubsub.publish(`feed:${feed}`, {
            postEvents: { id: `e${n}`, author: { id: author } },
          });
          // Every user's upstream delivered the event to its pipeline (each
          // resolution starts in the same turn), while the first resolution
          // waits for `people`: all of them are in flight together.
          await eventually(
            async () =>
              entityOperations.length >= 1 &&
              (await postsEventsIn()) - eventsBefore >= USERS.length,
            { what: () => `the event at all ${USERS.length} pipelines` },
          );
        } finally {
          release();
        }
        await eventually(() => subscribers.every((s) => s.events.length === n), {
          what: () => `event ${n} for everyone: ${subscribers.map((s) => s.events.length).join()}`,
        });
        for (const s of subscribers) {
          expect(s.errors).toEqual([]);
          expect(s.events[n - 1]).toEqual({
            data: { postEvents: { id: `e${n}`, author: { name: names[author] } } },
          });
        }
        // One fetch, as nobody in particular; and no other pipeline even
        // joined it at the data source: they shared the whole resolution.
        expect(entityOperations).toEqual([{ caller: 'anonymous', ids: [author] }]);
        expect((await sharedPeopleFetches()) - sharedBefore).toBe(0);
      }
    } finally {
      await dispose();
    }
  });

  it('resolves an event whose entity fetch is not shared as each user, who gets only their own note', async () => {
    const { feed, subscribers, dispose } = await subscribeEveryone(
      'subscription Feed($feed: ID!) { postEvents(feed: $feed) { id author { name secretNote } } }',
    );
    try {
      entityOperations.length = 0;
      await pubsub.publish(`feed:${feed}`, { postEvents: { id: 'e1', author: { id: 'u4' } } });
      await eventually(() => subscribers.every((s) => s.events.length === 1), {
        what: () => `the event for everyone: ${subscribers.map((s) => s.events.length).join()}`,
      });
      for (const s of subscribers) {
        expect(s.errors).toEqual([]);
        expect(s.events).toEqual([
          {
            data: {
              postEvents: {
                id: 'e1',
                author: { name: 'Dan', secretNote: noteOf(s.userId, 'u4') },
              },
            },
          },
        ]);
      }
      expect(callers()).toEqual(USERS);
      expect(entityOperations.every((op) => op.ids.join() === 'u4')).toBe(true);
    } finally {
      await dispose();
    }
  });
});
