/**
 * What the transport tests share: a `notes` subgraph with a query, a
 * mutation and a subscription (events from an in-process emitter, so no
 * pub/sub is needed), a router whose access log the test captures, and
 * readers for `/metrics` and for the three transports' clients.
 */
import { EventEmitter, on } from 'node:events';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import { gql } from 'graphql-tag';
import WebSocket from 'ws';
import type { KeyMaterial } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';
import {
  eventually,
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type TestSupergraph,
} from '@arcadia/testing';
import { createRouter, parseRouterEnv, type Router } from '../src/index.js';
import { jsonLineSink } from './fixtures.js';

interface Note {
  id: string;
  text: string;
}

/** The `notes` subgraph, and a way to publish to its `noteAdded` subscribers. */
export interface NotesInstance {
  server: SubgraphServer;
  publish(note: Note): void;
  /** Subscriptions the subgraph is serving right now. */
  readonly activeSubscriptions: number;
}

/** A subgraph with a query, a mutation and a subscription, for the transport tests. */
export function notesSubgraph(keys: KeyMaterial): NotesInstance {
  const emitter = new EventEmitter();
  const notes: Note[] = [{ id: 'n1', text: 'first' }];
  let active = 0;
  const server = createSubgraphServer<BaseContext>({
    name: 'notes',
    typeDefs: gql`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query {
        note(id: ID!): Note
        whoami: String
        "Answers after the given milliseconds."
        slow(ms: Int!): String!
        "Always refused with FORBIDDEN."
        secret: String
      }
      type Mutation {
        addNote(text: String!): Note!
      }
      type Subscription {
        "Every note added; minLength is only there to have a variable to coerce."
        noteAdded(minLength: Int): Note!
      }
      type Note @key(fields: "id") {
        id: ID!
        text: String!
        "Another note, so that operations can be made as deep as a test needs."
        next: Note
      }
    `,
    resolvers: {
      Query: {
        note: (_: unknown, args: { id: string }) => notes.find((n) => n.id === args.id) ?? null,
        whoami: (_: unknown, __: unknown, ctx: BaseContext) => ctx.caller.userId,
        slow: async (_: unknown, args: { ms: number }) => {
          await new Promise((resolve) => setTimeout(resolve, args.ms));
          return 'done';
        },
        secret: () => {
          throw new UserError(ErrorCode.FORBIDDEN, 'Not yours.');
        },
      },
      Mutation: {
        addNote: (_: unknown, args: { text: string }) => {
          const note = { id: `n${notes.length + 1}`, text: args.text };
          notes.push(note);
          return note;
        },
      },
      Subscription: {
        noteAdded: {
          subscribe: () => {
            const events = on(emitter, 'note') as AsyncIterableIterator<[Note]>;
            active++;
            let ended = false;
            const end = () => {
              if (!ended) active--;
              ended = true;
            };
            return {
              next: async () => {
                const result = await events.next();
                return result.done
                  ? result
                  : { done: false, value: { noteAdded: result.value[0] } };
              },
              return: async () => {
                end();
                await events.return?.();
                return { done: true as const, value: undefined };
              },
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          },
        },
      },
      Note: {
        next: (note: Note) => notes.find((n) => n.id !== note.id) ?? note,
      },
    },
    internalSecrets: keys.internalSecrets,
    logger: createLogger('notes', 'silent'),
    context: (base) => base,
  });
  return {
    server,
    publish: (note) => emitter.emit('note', note),
    get activeSubscriptions() {
      return active;
    },
  };
}

/** A router logging into `lines`, with helpers to reach it over each transport. */
export interface LoggedRouter {
  readonly router: Router;
  /** `http://…/graphql` */
  readonly url: string;
  /** `ws://…/graphql` */
  readonly wsUrl: string;
  /** The namespace of the router's own Redis keys (persisted queries). */
  readonly redisKeyPrefix: string;
  /** Every JSON line the router logged, parsed. */
  readonly lines: Record<string, any>[];
  /** The access log lines (`graphql request`) of operation `operationName`. */
  accessLines(operationName: string): Record<string, any>[];
  /** Waits for the access log line of `operationName` (over `transport`, when given). */
  accessLine(operationName: string, transport?: string): Promise<Record<string, any>>;
  /** The text of `/metrics` (on the metrics port, started on first use). */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a router on `supergraph`'s subgraphs whose log lines land in
 * `lines`, through `createLogger`'s destination: the test owns the stream.
 */
export async function startLoggedRouter(
  supergraph: TestSupergraph,
  keys: KeyMaterial,
  env: Record<string, string> = {},
): Promise<LoggedRouter> {
  const { stream: destination, lines } = jsonLineSink();
  const config = parseRouterEnv({
    ...process.env,
    // Keys of this router only: its persisted queries and sockets online.
    REDIS_KEY_PREFIX: `${uniqueName('router')}:`,
    PRESENCE_PREFIX: `${uniqueName('presence')}:`,
    ...env,
  });
  const router = await createRouter({
    config,
    supergraphSdl: supergraph.supergraphSdl,
    keys,
    logger: createLogger('router', 'info', destination),
  });
  const url = await router.listen(0, '127.0.0.1');
  let metricsUrl: Promise<string> | undefined;
  const accessLines = (operationName: string) =>
    lines.filter((l) => l.msg === 'graphql request' && l.operationName === operationName);
  return {
    router,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    redisKeyPrefix: config.REDIS_KEY_PREFIX,
    lines,
    accessLines,
    accessLine: (operationName, transport) =>
      eventually(
        () =>
          accessLines(operationName).find(
            (line) => transport === undefined || line.transport === transport,
          ),
        { what: `the ${transport ?? ''} access log line of ${operationName}` },
      ),
    metrics: async () => (await fetch(await (metricsUrl ??= router.listenMetrics(0)))).text(),
    close: () => router.close(),
  };
}

/** The notes subgraph behind a logged router, on keys of their own: what each transport test starts. */
export interface NotesStack {
  readonly keys: KeyMaterial;
  readonly notes: NotesInstance;
  readonly supergraph: TestSupergraph;
  readonly router: LoggedRouter;
  /** Stops the router, then the subgraph. */
  stop(): Promise<void>;
}

/** Starts {@link NotesStack}; `env` overrides router variables. */
export async function startNotesStack(env: Record<string, string> = {}): Promise<NotesStack> {
  const keys = await testKeyMaterial();
  const notes = notesSubgraph(keys);
  const supergraph = await startSupergraph({ subgraphs: [notes.server], keys });
  try {
    const router = await startLoggedRouter(supergraph, keys, env);
    return {
      keys,
      notes,
      supergraph,
      router,
      async stop() {
        await router.close();
        await supergraph.stop();
      },
    };
  } catch (error) {
    await supergraph.stop();
    throw error;
  }
}

/** A graphql-ws client of `wsUrl` that waits for the router's acknowledgement. */
export async function connectWs(
  wsUrl: string,
  connectionParams: Record<string, unknown> = {},
): Promise<Client> {
  let acknowledged!: () => void;
  const connected = new Promise<void>((resolve) => (acknowledged = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams,
    on: { connected: () => acknowledged() },
    onNonLazyError: () => {},
  });
  await connected;
  return client;
}

/** One GraphQL request as the clients send it. */
export interface OperationRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
}

/** What a client received for one operation: `next` payloads, then `error` or `complete`. */
export interface Received {
  readonly results: any[];
  /** The payload of an `error` message (graphql-ws) or a transport failure. */
  readonly error: unknown;
  readonly completed: boolean;
  stop(): void;
}

/** A sink for both clients' `subscribe`, and the {@link Received} view of what it collected. */
function collector(): {
  sink: { next: (value: unknown) => void; error: (error: unknown) => void; complete: () => void };
  received: (stop: () => void) => Received;
} {
  const results: any[] = [];
  let error: unknown;
  let completed = false;
  return {
    sink: {
      next: (value) => results.push(value),
      error: (e) => {
        error = e;
        completed = true;
      },
      complete: () => {
        completed = true;
      },
    },
    received: (stop) => ({
      results,
      stop,
      get error() {
        return error;
      },
      get completed() {
        return completed;
      },
    }),
  };
}

/** Runs one operation over graphql-ws, collecting what arrives. */
export function overWs(client: Client, request: OperationRequest): Received {
  const { sink, received } = collector();
  return received(client.subscribe(request, sink));
}

/** Runs one operation over SSE (distinct connections), collecting what arrives. */
export function overSse(
  url: string,
  request: OperationRequest,
  headers: Record<string, string> = {},
): Received {
  const client = createSseClient({ url, retryAttempts: 0, headers });
  const { sink, received } = collector();
  const unsubscribe = client.subscribe(request, sink);
  return received(() => {
    unsubscribe();
    client.dispose();
  });
}

/** Waits until `received` completed, and says what arrived if it does not. */
export async function completion(received: Received): Promise<Received> {
  await eventually(() => received.completed, {
    what: () => `completion; got ${JSON.stringify(received.results)}`,
  });
  return received;
}
