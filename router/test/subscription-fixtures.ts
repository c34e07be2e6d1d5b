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
import { createPubSub } from '@arcadia/pubsub';
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
  /** Upstream subscriptions this instance is serving right now. */
  readonly activeSubscriptions: number;
  publish(message: Message): Promise<void>;
}

export function chatSubgraph(keys: KeyMaterial, redisUrl: string, prefix: string): ChatInstance {
  const pubsub = createPubSub<ChatEvents>({ redisUrl, prefix });
  let active = 0;
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
          // A plain iterator, not an async generator: a generator's return()
          // would queue behind its pending next() until the next event.
          subscribe: (_: unknown, args: { room: string }) => {
            const events = pubsub.subscribe(`room:${args.room}`);
            active++;
            let ended = false;
            const end = () => {
              if (!ended) active--;
              ended = true;
            };
            return {
              next: () => events.next(),
              return: () => {
                end();
                return (
                  events.return?.() ?? Promise.resolve({ done: true as const, value: undefined })
                );
              },
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          },
        },
        inbox: {
          subscribe: (_: unknown, __: unknown, ctx: BaseContext) => {
            if (!ctx.caller.userId)
              throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in to read your inbox.');
            return pubsub.subscribe(`inbox:${ctx.caller.userId}`);
          },
        },
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('chat', 'silent'),
    context: (base) => base,
    onClose: () => pubsub.close(),
  });
  return {
    server,
    get activeSubscriptions() {
      return active;
    },
    publish: (message) => pubsub.publish(`room:${message.room}`, { messageAdded: message }),
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
      }
    `,
    resolvers: {
      Query: { user: (_: unknown, args: { id: string }) => ({ id: args.id }) },
      User: {
        __resolveReference: (ref: { id: string }) => ref,
        name: (user: { id: string }) => names[user.id] ?? 'Unknown',
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
