/**
 * In-flight deduplication: concurrent identical work runs once and every
 * caller gets its outcome. Only while it runs: nothing is kept once it
 * settles, so this is never a cache (a later identical call runs again,
 * and an error is shared only by those that were already waiting for it).
 */
import type { ApolloGateway } from '@apollo/gateway';
import { OperationTypeNode } from 'graphql';
import type { Caller } from '@arcadia/auth';
import type { RouterContext } from './request-context.js';

/** What Apollo Server runs every operation with: the gateway's executor. */
export type GatewayExecutor = Awaited<ReturnType<ApolloGateway['load']>>['executor'];
type GatewayRequestContext = Parameters<GatewayExecutor>[0];

interface Entry<T> {
  readonly promise: Promise<T>;
  /** Callers still to take the outcome; the last one gets the original. */
  consumers: number;
}

/** Shares one run of identical concurrent work, keyed by the caller; see the module comment. */
export class InflightDeduplicator<T> {
  private readonly inflight = new Map<string, Entry<T>>();

  /**
   * @param copy Gives each sharer but the last its own copy of the outcome,
   *   for consumers that mutate what they receive (the gateway merges
   *   subgraph data in place). Without it every sharer gets the same value.
   * @param onShared Called for every call that joined a run instead of starting one.
   */
  constructor(private readonly options: { copy?: (value: T) => T; onShared?: () => void } = {}) {}

  /** Runs `work` unless a run under `key` is in flight, then shares that run's outcome. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) {
      existing.consumers++;
      this.options.onShared?.();
      return this.take(existing);
    }
    // An async wrapper turns a synchronous throw into this run's rejection.
    const entry: Entry<T> = { promise: (async () => work())(), consumers: 1 };
    this.inflight.set(key, entry);
    // Registered before any sharer awaits the promise, so the entry is gone
    // before the first of them runs on: nobody joins a finished run.
    const forget = () => {
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
    };
    entry.promise.then(forget, forget);
    return this.take(entry);
  }

  /** Runs in flight (for tests and metrics). */
  get size(): number {
    return this.inflight.size;
  }

  private async take(entry: Entry<T>): Promise<T> {
    const value = await entry.promise;
    // Each earlier sharer copies as soon as it resumes, before anyone has
    // touched the original; the last one may then have it.
    if (!this.options.copy || --entry.consumers === 0) return value;
    return this.options.copy(value);
  }
}

/**
 * Who an operation runs as, for deduplication keys: anonymous callers all
 * share one scope; a signed-in caller (or partner client) only its own,
 * made of everything the subgraphs see of it in the signed caller header
 * (user, roles, scopes, client, session, name, address), so two callers
 * can never receive each other's data.
 */
export function callerScope(caller: Caller, clientAddress?: string): string {
  if (
    caller.userId === null &&
    caller.roles.length === 0 &&
    caller.scopes.length === 0 &&
    caller.clientId === undefined &&
    caller.sessionId === undefined
  ) {
    return 'anonymous';
  }
  return JSON.stringify([
    caller.userId,
    caller.roles,
    caller.scopes,
    caller.clientId ?? null,
    caller.sessionId ?? null,
    caller.name ?? null,
    clientAddress ?? caller.clientAddress ?? null,
  ]);
}

/** The scope of the operation a router context belongs to. */
export function contextScope(context: RouterContext): string {
  return callerScope(context.caller, context.record.clientAddress);
}

/**
 * Wraps the gateway's executor so that concurrent identical queries (same
 * document, operation name, variables and caller scope; see
 * {@link callerScope}) execute once. Apollo Server calls the executor after
 * authentication, parsing, validation, the limits and APQ, and formats the
 * result for each request on its own, so each still gets its own request
 * id, errors formatted (and codes recorded) on its record, log line and
 * metrics. Mutations and subscriptions always run on their own.
 */
export function deduplicatingExecutor(
  executor: GatewayExecutor,
  onShared: () => void,
): GatewayExecutor {
  const inflight = new InflightDeduplicator<Awaited<ReturnType<GatewayExecutor>>>({ onShared });
  return (requestContext) => {
    const key = operationKey(requestContext);
    if (key === undefined) return executor(requestContext);
    return inflight.run(key, () => executor(requestContext));
  };
}

function operationKey(requestContext: GatewayRequestContext): string | undefined {
  if (requestContext.operation?.operation !== OperationTypeNode.QUERY) return undefined;
  const { request, queryHash, source } = requestContext;
  const context = requestContext.context as Partial<RouterContext> | undefined;
  // No caller on the context: not one of the router's operations; run it alone.
  if (!context?.caller || !context.record) return undefined;
  return JSON.stringify([
    contextScope(context as RouterContext),
    queryHash ?? source,
    requestContext.operationName ?? null,
    request.variables ?? null,
  ]);
}
