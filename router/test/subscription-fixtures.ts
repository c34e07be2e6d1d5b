/**
 * Three subgraphs for the router's subscription tests: `chat` owns the
 * `messageAdded` subscription (Redis pub/sub behind it, as every Arcadia
 * subgraph does), `users` owns `User.name` and `media` adds `User.avatar`,
 * so each event needs entity fetches from two other subgraphs.
 */
import { gql } from 'graphql-tag';
import type { KeyMaterial } from '@arcadia/auth';
import { ErrorCode, userError } from '@arcadia/errors';
import { createLogger } from '@arcadia/observability';
import { createPubSub, type PubSubSubscription } from '@arcadia/pubsub';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';

const federation = `
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@composeDirective"])
    @link(url: "https://arcadia.dev/directives/v1.0", import: ["@shared"])
    @composeDirective(name: "@shared")
  "Events of this subscription are the same for every caller: the router shares one upstream."
  directive @shared on FIELD_DEFINITION
`;

export interface Message {
  id: string;
  room: string;
  text: string;
  sender: { id: string };
}

type ChatEvents = { [room: `room:${string}`]: { messageAdded: Message } } & {
  [user: `inbox:${string}`]: { inbox: string };
};

/** A `chat` subgraph instance; every instance with the same Redis prefix sees the same events. */
export interface ChatInstance {
  server: SubgraphServer;
  /**
   * `messageAdded` subscriptions this instance is serving right now, counted
   * once Redis confirmed their SUBSCRIBE: an event published after this
   * count went up reaches them.
   */
  readonly activeSubscriptions: number;
  /** Likewise, of one room: what a test waits for before publishing to it. */
  activeIn(room: string): number;
  /** Likewise for `inbox` subscriptions. */
  readonly activeInboxes: number;
  publish(message: Message): Promise<void>;
  /** Sends `text` to the inbox of `userId`. */
  publishInbox(userId: string, text: string): Promise<void>;
}

/**
 * Counts `events` in `counter` from the moment Redis confirmed its
 * subscription until it ends. A plain iterator, not an async generator: a
 * generator's return() would queue behind its pending next() until the next event.
 */
function counted<T>(
  events: PubSubSubscription<T>,
  counters: { value: number }[],
): AsyncIterableIterator<T> {
  let counting = false;
  let ended = false;
  void events.subscribed.then(
    () => {
      if (ended) return;
      counting = true;
      for (const counter of counters) counter.value++;
    },
    // Only when the pub/sub closed first; the subscription then ends by itself.
    () => undefined,
  );
  return {
    next: () => events.next(),
    return: () => {
      ended = true;
      if (counting) for (const counter of counters) counter.value--;
      counting = false;
      return events.return?.() ?? Promise.resolve({ done: true as const, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export function chatSubgraph(keys: KeyMaterial, redisUrl: string, prefix: string): ChatInstance {
  const logger = createLogger('chat', 'silent');
  const pubsub = createPubSub<ChatEvents>({ redisUrl, prefix, logger });
  const active = { value: 0 };
  const rooms = new Map<string, { value: number }>();
  const room = (name: string) => {
    let counter = rooms.get(name);
    if (!counter) rooms.set(name, (counter = { value: 0 }));
    return counter;
  };
  const inboxes = { value: 0 };
  const server = createSubgraphServer<BaseContext>({
    name: 'chat',
    typeDefs: gql`
      ${federation}
      type Query {
        "Health of the chat fixture."
        chatPing: String
      }
      type Mutation {
        send(room: ID!, text: String!, senderId: ID!): Message!
      }
      type Subscription {
        "Messages of a public room."
        messageAdded(room: ID!): Message! @shared
        "The caller's private inbox; needs a signed-in caller."
        inbox: String!
        "Messages of a room, as one of its members sees them: one upstream per caller."
        memberView(room: ID!): Message!
      }
      type Message @key(fields: "id") {
        id: ID!
        room: ID!
        text: String!
        sender: User!
      }
      type User @key(fields: "id", resolvable: false) {
        id: ID!
      }
    `,
    resolvers: {
      Query: { chatPing: () => 'pong' },
      Mutation: {
        send: async (_: unknown, args: { room: string; text: string; senderId: string }) => {
          const message = {
            id: `m-${Date.now()}-${Math.random()}`,
            room: args.room,
            text: args.text,
            sender: { id: args.senderId },
          };
          await pubsub.publish(`room:${args.room}`, { messageAdded: message });
          return message;
        },
      },
      Subscription: {
        messageAdded: {
          subscribe: (_: unknown, args: { room: string }) =>
            counted(pubsub.subscribe(`room:${args.room}`), [active, room(args.room)]),
        },
        memberView: {
          subscribe: (_: unknown, args: { room: string }) =>
            counted(pubsub.subscribe(`room:${args.room}`), [room(args.room)]),
          resolve: (event: { messageAdded: Message }) => event.messageAdded,
        },
        inbox: {
          subscribe: (_: unknown, __: unknown, ctx: BaseContext) => {
            if (!ctx.caller.userId)
              throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in to read your inbox.');
            return counted(pubsub.subscribe(`inbox:${ctx.caller.userId}`), [inboxes]);
          },
        },
      },
    },
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => base,
    onClose: () => pubsub.close(),
  });
  return {
    server,
    get activeSubscriptions() {
      return active.value;
    },
    activeIn: (name) => rooms.get(name)?.value ?? 0,
    get activeInboxes() {
      return inboxes.value;
    },
    publish: (message) => pubsub.publish(`room:${message.room}`, { messageAdded: message }),
    publishInbox: (userId, text) => pubsub.publish(`inbox:${userId}`, { inbox: text }),
  };
}

const names: Record<string, string> = { u1: 'Alice', u2: 'Bob' };

export function usersSubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'users',
    typeDefs: gql`
      ${federation}
      type Query {
        user(id: ID!): User
      }
      type User @key(fields: "id") {
        id: ID!
        name: String!
        "Who asked: the caller this subgraph saw."
        viewer: String!
      }
    `,
    resolvers: {
      Query: { user: (_: unknown, args: { id: string }) => ({ id: args.id }) },
      User: {
        __resolveReference: (ref: { id: string }) => ref,
        name: (user: { id: string }) => names[user.id] ?? 'Unknown',
        viewer: (_: unknown, __: unknown, ctx: BaseContext) => ctx.caller.userId ?? 'anonymous',
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('users', 'silent'),
    context: (base) => base,
  });
}

export function mediaSubgraph(keys: KeyMaterial): SubgraphServer {
  return createSubgraphServer<BaseContext>({
    name: 'media',
    typeDefs: gql`
      ${federation}
      type User @key(fields: "id") {
        id: ID!
        avatar: Avatar
      }
      type Avatar {
        url: String!
      }
    `,
    resolvers: {
      User: {
        __resolveReference: (ref: { id: string }) => ref,
        avatar: (user: { id: string }) => ({ url: `https://cdn.example/${user.id}.webp` }),
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('media', 'silent'),
    context: (base) => base,
  });
}
