import { createHash, randomUUID } from 'node:crypto';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { FetchNode, PlanNode } from '@apollo/query-planner';
import { InflightDeduplicator } from '../dedupe.js';
import { runPlan } from '../execution/index.js';
import {
  GraphQLError,
  print,
  type DocumentNode,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ANONYMOUS,
  CALLER_HEADER,
  SOCKET_OPERATION,
  type Caller,
  type CallerSigner,
} from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { explainNulls } from '../null-propagation.js';
import type { ContextBuilder, RouterContext } from '../request-context.js';
import { newRequestRecord } from '../request-context.js';
import { Channel } from './channel.js';
import type { SubscriptionMetrics } from './metrics.js';
import type { SubscriptionPlan, SubscriptionPlanner } from './planner.js';

/** What a client receives for each event: a GraphQL result, errors already formatted. */
export interface SubscriptionEvent {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLFormattedError[];
}

/** How the router reconnects to a subgraph whose socket dropped. */
export interface RetryPolicy {
  /** Reconnection attempts before clients get an error and a completion. */
  attempts: number;
  /** First wait; doubles per attempt up to `maxDelayMs`, plus jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What the engine needs from the router. */
export interface SubscriptionEngineDeps {
  planner: SubscriptionPlanner;
  /**
   * Each subgraph's data source, the one queries use, for the per-event
   * entity fetches: it signs each fetch for its own caller and batches the
   * fetches of one turn of the event loop (one event reaching many
   * pipelines) into one request per subgraph.
   */
  dataSources: ReadonlyMap<string, GraphQLDataSource<RouterContext>>;
  /** GraphQL URL of each subgraph; its graphql-ws endpoint is the same path. */
  subgraphUrls: ReadonlyMap<string, string>;
  signCaller: CallerSigner;
  /**
   * When an upstream socket moves to a freshly signed one. Subgraphs close a
   * socket when its caller signature expires, so this must come first; the
   * move overlaps both sockets, so no event falls between them.
   */
  renewConnectionsAfterMs: number;
  /** The router's one context builder: per-event entity fetches run with the same context as every operation. */
  buildContext: ContextBuilder;
  /** The anonymous context of an event's fetches of only `@shared` fields (see `Planning.isSharedFetch`). */
  anonymousContext?: (context: RouterContext) => RouterContext;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  logger: Logger;
  metrics: SubscriptionMetrics;
  retry: RetryPolicy;
  /** Events buffered per client before it counts as too slow and is dropped. */
  clientQueueCapacity: number;
}

/** One client's subscription, as the transports hand it to the engine. */
export interface SubscribeArgs {
  plan: SubscriptionPlan;
  document: DocumentNode;
  operationName: string | null | undefined;
  /** Coerced variable values of the whole operation. */
  variables: Record<string, unknown>;
  caller: Caller;
  /** `ws` or `sse`, for metrics. */
  transport: string;
  /** Cuts the client off when it falls too far behind (closes its socket or stream). */
  onSlowConsumer: () => void;
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

function hash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\0');
  return h.digest('base64url');
}

/** Two callers with the same key see the same events. */
function callerKey(caller: Caller): string {
  return stableJson({
    u: caller.userId,
    r: [...caller.roles].sort(),
    s: [...caller.scopes].sort(),
    c: caller.clientId ?? null,
  });
}

function upstreamError(serviceName: string): SubscriptionEvent {
  return {
    errors: [
      {
        message: `The ${serviceName} service is unavailable.`,
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, serviceName },
      },
    ],
  };
}

/**
 * Serves federated subscriptions. Each client subscription is planned by the
 * federation query planner; its primary fetch becomes an upstream
 * subscription over graphql-ws to the subgraph that owns the root field, and
 * every event runs the rest of the plan (entity fetches to other subgraphs)
 * through the gateway's own executor before it is sent.
 *
 * Sharing: identical upstream subscriptions (subgraph, operation, variables
 * and, unless the field is `@shared`, caller) are opened once, all of them
 * over one socket per subgraph; identical client operations on one upstream
 * (a "pipeline") resolve each event once. The last client to leave closes
 * the upstream.
 */
export class SubscriptionEngine {
  private readonly connections = new Map<string, Connection>();
  private readonly upstreams = new Map<string, Upstream>();
  private closed = false;

  private readonly eventDataSources: ReadonlyMap<string, GraphQLDataSource<RouterContext>>;
  /**
   * One resolution for the same event of the same operation reaching many
   * callers' pipelines at once, when nothing of it depends on the caller
   * (see {@link Pipeline.resolve}): per-caller subscriptions (every member
   * of a conversation has their own) deliver one event's result computed
   * once, and the transports serialise that one object once.
   */
  private readonly resolutions = new InflightDeduplicator<SubscriptionEvent>();

  constructor(private readonly deps: SubscriptionEngineDeps) {
    this.eventDataSources = deps.dataSources;
  }

  /** The planner the engine plans with (its API schema validates client operations). */
  get planner(): SubscriptionPlanner {
    return this.deps.planner;
  }

  /** Subscribes one client; the iterator ends when the client returns it or the upstream ends. */
  subscribe(args: SubscribeArgs): AsyncIterableIterator<SubscriptionEvent> {
    if (this.closed) throw new GraphQLError('The router is shutting down.');
    const { plan } = args;
    const caller = plan.shared ? ANONYMOUS : args.caller;
    const primaryVariables = Object.fromEntries(
      (plan.primary.variableUsages ?? []).map((name) => [name, args.variables[name]]),
    );
    const upstreamKey = hash(
      plan.primary.serviceName,
      plan.primary.operation,
      stableJson(primaryVariables),
      callerKey(caller),
    );
    let upstream = this.upstreams.get(upstreamKey);
    if (!upstream) {
      upstream = new Upstream(
        this,
        {
          ...this.deps,
          eventDataSources: this.eventDataSources,
          resolutions: this.resolutions,
        },
        {
          key: upstreamKey,
          serviceName: plan.primary.serviceName,
          query: plan.primary.operation,
          operationName: plan.primary.operationName ?? undefined,
          variables: primaryVariables,
          caller,
        },
      );
      this.upstreams.set(upstreamKey, upstream);
      upstream.start();
    }
    return upstream.join({ ...args, caller });
  }

  /** How many upstream subscriptions are open (for tests and metrics). */
  get upstreamCount(): number {
    return this.upstreams.size;
  }

  /** Completes every client subscription and closes every upstream. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.upstreams.values()].map((u) => u.finish()));
    await Promise.all(
      [...this.connections.values()].map(async (c) => {
        await c.client.dispose();
      }),
    );
    this.connections.clear();
  }

  /** @internal */
  forget(upstream: Upstream): void {
    if (this.upstreams.get(upstream.key) === upstream) this.upstreams.delete(upstream.key);
  }

  /**
   * The graphql-ws client to `serviceName`: one socket per subgraph carries
   * every upstream subscription of every caller (each operation signed for
   * its own caller), so sockets grow with subgraphs, not users. The socket
   * itself is signed as the router's anonymous caller at every
   * (re)connection. After `renewConnectionsAfterMs` the client is retired:
   * later upstreams get a new one, and each upstream on it moves over by
   * calling `renew`.
   * @internal
   */
  acquireConnection(
    serviceName: string,
    renew: () => void,
  ): { client: Client; release: () => void } {
    const key = serviceName;
    let entry = this.connections.get(key);
    if (!entry) {
      const created: Connection = {
        client: this.createClient(serviceName),
        refs: 0,
        renewers: new Set(),
        retire: setTimeout(() => {
          if (this.connections.get(key) === created) this.connections.delete(key);
          for (const renewOne of created.renewers) renewOne();
        }, this.deps.renewConnectionsAfterMs),
      };
      created.retire.unref();
      this.deps.metrics.upstreamSockets.inc({ service: serviceName });
      entry = created;
      this.connections.set(key, entry);
    }
    const held = entry;
    held.refs++;
    held.renewers.add(renew);
    let released = false;
    return {
      client: held.client,
      release: () => {
        if (released) return;
        released = true;
        held.renewers.delete(renew);
        if (--held.refs > 0) return;
        if (this.connections.get(key) === held) this.connections.delete(key);
        clearTimeout(held.retire);
        this.deps.metrics.upstreamSockets.dec({ service: serviceName });
        void held.client.dispose();
      },
    };
  }

  private createClient(serviceName: string): Client {
    const url = this.deps.subgraphUrls.get(serviceName);
    if (!url) throw new GraphQLError(`Unknown subgraph ${serviceName}.`);
    const { retry, metrics, logger } = this.deps;
    let connectedBefore = false;
    return createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      lazyCloseTimeout: 0,
      keepAlive: 10_000,
      retryAttempts: retry.attempts,
      // Any dropped socket (restart, deploy, network) is worth retrying.
      shouldRetry: () => true,
      retryWait: async (retries) => {
        const delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** retries);
        await new Promise((r) => setTimeout(r, delay + Math.random() * retry.baseDelayMs));
      },
      connectionParams: async () => ({
        [CALLER_HEADER]: await this.deps.signCaller(ANONYMOUS, {
          audience: serviceName,
          connection: true,
        }),
      }),
      on: {
        connected: () => {
          if (connectedBefore) {
            metrics.upstreamReconnects.inc({ service: serviceName });
            logger.info({ subgraph: serviceName }, 'upstream subscription socket reconnected');
          }
          connectedBefore = true;
        },
        closed: (event) => {
          const code = (event as { code?: number }).code;
          if (code !== 1000) {
            logger.warn({ subgraph: serviceName, code }, 'upstream subscription socket closed');
          }
        },
      },
    });
  }
}

/** A graphql-ws client shared by the upstreams of one subgraph. */
interface Connection {
  readonly client: Client;
  refs: number;
  /** How each upstream on it moves to a new connection when this one retires. */
  readonly renewers: Set<() => void>;
  readonly retire: NodeJS.Timeout;
}

type UpstreamResult = FormattedExecutionResult<Record<string, unknown>>;

/** One upstream subscription on one connection; `handle` can be re-pointed while it runs. */
interface Leg {
  handle: (result: UpstreamResult) => void;
  close(): void;
}

// How long the old and new sockets of a renewal both carry an upstream.
const RENEWAL_OVERLAP_MS = 2_000;

/** One subscription to a subgraph, fanned out to the pipelines that need its events. */
/** What an upstream and its pipelines need: the engine's deps and its batching data sources. */
type PipelineDeps = SubscriptionEngineDeps & {
  readonly eventDataSources: ReadonlyMap<string, GraphQLDataSource<RouterContext>>;
  /** Resolutions of events that do not depend on the caller, shared while in flight. */
  readonly resolutions: InflightDeduplicator<SubscriptionEvent>;
};

class Upstream {
  readonly key: string;
  private readonly pipelines = new Map<string, Pipeline>();
  // The subscription events come from, and the one taking over during a renewal.
  private active: Leg | undefined;
  private incoming: Leg | undefined;
  private done = false;

  constructor(
    private readonly engine: SubscriptionEngine,
    private readonly deps: PipelineDeps,
    private readonly spec: {
      key: string;
      serviceName: string;
      query: string;
      operationName: string | undefined;
      variables: Record<string, unknown>;
      caller: Caller;
    },
  ) {
    this.key = spec.key;
  }

  start(): void {
    this.deps.metrics.upstreams.inc({ service: this.spec.serviceName });
    this.active = this.open();
  }

  /** Subscribes on the current connection of this upstream's subgraph and caller. */
  private open(): Leg {
    const { serviceName, caller } = this.spec;
    const connection = this.engine.acquireConnection(serviceName, () => this.renew());
    let open = true;
    let unsubscribe: (() => void) | undefined;
    const leg: Leg = {
      handle: (result) => this.deliver(result),
      close: () => {
        if (!open) return;
        open = false;
        unsubscribe?.();
        connection.release();
      },
    };
    const request = {
      query: this.spec.query,
      variables: this.spec.variables,
      ...(this.spec.operationName ? { operationName: this.spec.operationName } : {}),
    };
    // The socket is shared by every caller's subscriptions to this subgraph:
    // the operation carries its own caller, signed for it. A reconnection
    // resends it; it stays valid until the socket is renewed.
    this.deps.signCaller(caller, { audience: serviceName, method: SOCKET_OPERATION, request }).then(
      (signed) => {
        if (!open) return;
        unsubscribe = connection.client.subscribe<Record<string, unknown>, Record<string, unknown>>(
          { ...request, extensions: { [CALLER_HEADER]: signed } },
          {
            next: (result) => {
              if (open) leg.handle(result);
            },
            // Closing a leg completes its sink: only a leg still open speaks for the upstream.
            error: (error) => {
              if (open) this.fail(error);
            },
            complete: () => {
              if (open) void this.finish();
            },
          },
        );
      },
      (error: unknown) => {
        if (open) this.fail(error);
      },
    );
    return leg;
  }

  /**
   * Moves to a freshly signed connection without a gap: the new subscription
   * opens while the old one still delivers; after the overlap the old one
   * closes, and each event is sent once — the new leg's copies of events the
   * old leg already delivered are dropped (results compared as JSON).
   */
  private renew(): void {
    const old = this.active;
    if (this.done || !old || this.incoming) return;
    const delivered = new Map<string, number>();
    old.handle = (result) => {
      const key = JSON.stringify(result);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      this.deliver(result);
    };
    this.deps.metrics.upstreamRenewals.inc({ service: this.spec.serviceName });
    const next = this.open();
    this.incoming = next;
    const early: UpstreamResult[] = [];
    next.handle = (result) => early.push(result);
    // A copy still on its way over the new socket is dropped against the old leg's.
    const isCopy = (result: UpstreamResult) => {
      const key = JSON.stringify(result);
      const count = delivered.get(key);
      if (!count) return false;
      if (count === 1) delivered.delete(key);
      else delivered.set(key, count - 1);
      return true;
    };
    setTimeout(() => {
      if (this.done) return;
      old.close();
      for (const result of early) if (!isCopy(result)) this.deliver(result);
      next.handle = (result) => {
        if (!isCopy(result)) this.deliver(result);
      };
      this.active = next;
      this.incoming = undefined;
      // Past another overlap, a remembered event cannot still be in flight.
      setTimeout(() => {
        if (this.active === next) next.handle = (result) => this.deliver(result);
      }, RENEWAL_OVERLAP_MS).unref();
    }, RENEWAL_OVERLAP_MS).unref();
  }

  private deliver(result: UpstreamResult): void {
    this.deps.metrics.eventsIn.inc({ service: this.spec.serviceName });
    for (const pipeline of this.pipelines.values()) pipeline.onEvent(result);
  }

  private fail(error: unknown): void {
    const { serviceName } = this.spec;
    // GraphQL errors (e.g. refused on subscribe) reach clients as they
    // are; a socket that could not be restored becomes SERVICE_UNAVAILABLE.
    const event = Array.isArray(error)
      ? {
          errors: (error as GraphQLFormattedError[]).map((e) =>
            this.deps.formatError(e, new GraphQLError(e.message, { extensions: e.extensions })),
          ),
        }
      : upstreamError(serviceName);
    if (!Array.isArray(error)) {
      this.deps.logger.warn({ subgraph: serviceName, err: error }, 'upstream subscription failed');
    }
    for (const pipeline of this.pipelines.values()) pipeline.onFinalEvent(event);
    void this.finish();
  }

  join(args: SubscribeArgs): AsyncIterableIterator<SubscriptionEvent> {
    const pipelineKey = hash(args.plan.key, stableJson(args.variables));
    let pipeline = this.pipelines.get(pipelineKey);
    if (!pipeline) {
      pipeline = new Pipeline(this.deps, args, () => {
        this.pipelines.delete(pipelineKey);
        if (this.pipelines.size === 0) void this.finish();
      });
      this.pipelines.set(pipelineKey, pipeline);
    }
    return pipeline.join(args);
  }

  /** Ends every client of this upstream (after events in flight) and closes it. */
  finish(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    this.engine.forget(this);
    const ended = Promise.all([...this.pipelines.values()].map((p) => p.end()));
    this.pipelines.clear();
    this.active?.close();
    this.incoming?.close();
    this.deps.metrics.upstreams.dec({ service: this.spec.serviceName });
    return ended.then(() => undefined);
  }
}

/**
 * One client operation (document + variables + caller) on an upstream: each
 * event's entity fetches run once and the result goes to every client of it.
 */
class Pipeline {
  private readonly channels = new Set<Channel<SubscriptionEvent>>();
  // Events resolve one after another so clients see them in upstream order.
  private tail: Promise<void> = Promise.resolve();
  private readonly context: RouterContext;
  private readonly source: string;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly args: SubscribeArgs,
    private readonly onEmpty: () => void,
  ) {
    // The events' entity fetches are part of the client operation that was
    // already logged; this record is never logged again.
    this.context = deps.buildContext(args.caller, newRequestRecord(randomUUID()));
    this.source = print(args.document);
  }

  join(
    client: Pick<SubscribeArgs, 'transport' | 'onSlowConsumer'>,
  ): AsyncIterableIterator<SubscriptionEvent> {
    const { metrics } = this.deps;
    const labels = { transport: client.transport };
    const channel = new Channel<SubscriptionEvent>(
      this.deps.clientQueueCapacity,
      () => {
        metrics.clientSubscriptions.dec(labels);
        this.channels.delete(channel);
        if (this.channels.size === 0) this.onEmpty();
      },
      // The transport counts the drop: it owns the connection it closes.
      () => client.onSlowConsumer(),
    );
    metrics.clientSubscriptions.inc(labels);
    this.channels.add(channel);
    return channel;
  }

  onEvent(event: FormattedExecutionResult<Record<string, unknown>>): void {
    this.tail = this.tail.then(async () => {
      if (this.channels.size === 0) return;
      const result = await this.resolve(event);
      for (const channel of this.channels) {
        this.deps.metrics.eventsOut.inc();
        channel.push(result);
      }
    });
  }

  /** Sends a last event after the ones in flight, then ends every client. */
  onFinalEvent(event: SubscriptionEvent): void {
    this.tail = this.tail.then(() => {
      for (const channel of this.channels) channel.push(event);
    });
  }

  end(): Promise<void> {
    return this.tail.then(() => {
      for (const channel of [...this.channels]) channel.end();
    });
  }

  /**
   * The client result of one event. When the event's remaining plan fetches
   * only `@shared` fields (or nothing), the result depends on the operation,
   * its variables and the event alone, not on the caller: pipelines of
   * other callers resolving the same event at the same moment share one
   * resolution.
   */
  private resolve(
    event: FormattedExecutionResult<Record<string, unknown>>,
  ): Promise<SubscriptionEvent> {
    const { plan } = this.args;
    if (!this.callerIndependent) return this.resolveOwn(event);
    const key = `${plan.key}\0${stableJson(this.args.variables)}\0${JSON.stringify(event)}`;
    return this.deps.resolutions.run(key, () => this.resolveOwn(event));
  }

  /** Whether every fetch of the plan's rest selects only `@shared` fields (see `Planning.isSharedFetch`). */
  private get callerIndependent(): boolean {
    this.independent ??= everyFetch(this.args.plan.rest, (fetch) =>
      this.deps.planner.planning.isSharedFetch(fetch),
    );
    return this.independent;
  }

  private independent: boolean | undefined;

  private async resolveOwn(
    event: FormattedExecutionResult<Record<string, unknown>>,
  ): Promise<SubscriptionEvent> {
    const { plan } = this.args;
    const format = (errors: readonly GraphQLError[]) =>
      errors.map((e) => this.deps.formatError(e.toJSON(), e));
    if (!event.data) {
      return {
        data: null,
        errors: (event.errors ?? []).map((e) =>
          this.deps.formatError(e, new GraphQLError(e.message, { extensions: e.extensions })),
        ),
      };
    }
    const node: PlanNode = plan.rest
      ? { kind: 'Sequence', nodes: [plan.primary, plan.rest] }
      : plan.primary;
    const serviceMap = new Map<string, GraphQLDataSource<RouterContext>>(
      this.deps.eventDataSources,
    );
    // The primary fetch is answered by the event itself; any other fetch to
    // the same subgraph (an entity fetch in `rest`) goes to the real one.
    serviceMap.set(
      plan.primary.serviceName,
      new EventDataSource(
        event,
        plan.primary.operation,
        this.deps.eventDataSources.get(plan.primary.serviceName),
      ),
    );
    try {
      const result = await runPlan({
        planning: this.deps.planner.planning,
        node,
        shape: plan.shape,
        dataSources: serviceMap,
        anonymousContext: this.deps.anonymousContext as ((context: unknown) => unknown) | undefined,
        requestContext: {
          request: {
            query: this.source,
            variables: this.args.variables,
            ...(this.args.operationName ? { operationName: this.args.operationName } : {}),
          },
          context: this.context,
          logger: this.deps.logger,
          metrics: {},
          schema: this.deps.planner.apiSchema,
          document: this.args.document,
          source: this.source,
          operationName: this.args.operationName ?? null,
          operation: plan.operationContext.operation,
        } as unknown as Parameters<typeof runPlan>[0]['requestContext'],
      });
      // A null the gateway propagated gets its error, as a query's does.
      const { extensions: _report, ...explained } = explainNulls(
        {
          data: (result.data as Record<string, unknown> | null | undefined) ?? null,
          ...(result.errors?.length ? { errors: format(result.errors) } : {}),
          extensions: result.extensions,
        },
        this.deps.formatError,
      );
      return explained;
    } catch (error) {
      this.deps.logger.error({ err: error }, 'subscription event could not be resolved');
      return {
        data: null,
        errors: format([new GraphQLError('Unexpected error.', { originalError: error as Error })]),
      };
    }
  }
}

/** Whether `test` holds for every fetch of `node` (true for no node). */
function everyFetch(node: PlanNode | undefined, test: (fetch: FetchNode) => boolean): boolean {
  if (!node) return true;
  switch (node.kind) {
    case 'Fetch':
      return test(node);
    case 'Sequence':
    case 'Parallel':
      return node.nodes.every((child) => everyFetch(child, test));
    case 'Flatten':
      return everyFetch(node.node, test);
    case 'Condition':
      return everyFetch(node.ifClause, test) && everyFetch(node.elseClause, test);
    default:
      return false;
  }
}

/** Answers the primary fetch of one event with the event; forwards anything else. */
class EventDataSource implements GraphQLDataSource<RouterContext> {
  constructor(
    private readonly event: FormattedExecutionResult<Record<string, unknown>>,
    private readonly primaryOperation: string,
    private readonly real: GraphQLDataSource<RouterContext> | undefined,
  ) {}

  process(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    if (options.request.query === this.primaryOperation) {
      return Promise.resolve({
        data: this.event.data ?? null,
        ...(this.event.errors?.length ? { errors: this.event.errors } : {}),
      } as Awaited<ReturnType<GraphQLDataSource['process']>>);
    }
    if (!this.real) throw new UserError(ErrorCode.SERVICE_UNAVAILABLE, 'Unknown subgraph.');
    return this.real.process(options);
  }
}
