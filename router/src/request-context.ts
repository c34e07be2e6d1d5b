import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { DocumentNode } from 'graphql';
import { ANONYMOUS, type Caller, type CallerBinding, type CallerSigner } from '@arcadia/auth';
import type { UserError } from '@arcadia/errors';
import type { SubscriptionPlan } from './subscriptions/planner.js';

/** How an operation reached the router; a field of its access log line. */
export type Transport = 'http' | 'ws' | 'sse';

/** The kind of operation Apollo resolved. */
export type OperationType = 'query' | 'mutation' | 'subscription';

/**
 * What the router learns about one GraphQL operation while serving it,
 * whatever the transport; the access log line and the request metrics are
 * written from it once the operation is over (see `request-log.ts`).
 */
export interface RequestRecord {
  readonly requestId: string;
  /** `http`, or `ws`/`sse` once a streaming transport took the operation. */
  transport: Transport;
  /** `process.hrtime.bigint()` when the operation arrived. */
  readonly startedAt: bigint;
  /** The operation Apollo resolved, else the `operationName` the client sent. */
  operationName: string | null;
  /** Null until Apollo resolves the operation (and when it never does). */
  operationType: OperationType | null;
  /** Null until the bearer token is verified (and when it is refused). */
  caller: Caller | null;
  /**
   * Where the request came from (see `clientAddressResolver`), passed to
   * subgraphs in the signed caller for their per-address limits.
   */
  readonly clientAddress?: string;
  /** Distinct `extensions.code`s of the errors sent back, in order. */
  readonly errorCodes: string[];
  /** Whether the response carried `data` (partial data still counts). */
  hasData: boolean;
  /**
   * The operation's status once a streaming transport settled it (what the
   * same operation gets over HTTP); unset over plain HTTP, where the
   * response's own status is used.
   */
  status?: number;
  /**
   * Set when parsing failed on the token limit: graphql-js's parser stops
   * with a syntax error, which Apollo reports as GRAPHQL_PARSE_FAILED;
   * `formatError` answers this QUERY_TOO_COMPLEX error in its place.
   */
  parseRejection?: UserError;
  /** Whether the access log line and metrics were written (they are written once). */
  logged: boolean;
}

/** A subscription that passed every check, ready for the subscription engine. */
export interface AdmittedSubscription {
  readonly document: DocumentNode;
  readonly operationName: string | null;
  /** Coerced variable values of the whole operation. */
  readonly variables: Record<string, unknown>;
  readonly plan: SubscriptionPlan;
}

/**
 * Where Apollo's request pipeline hands a streaming transport what it
 * cannot put in a response: the parsed document, and a subscription it
 * admitted instead of executing. Only graphql-ws and SSE pass one.
 */
export interface StreamSlot {
  document?: DocumentNode;
  subscription?: AdmittedSubscription;
}

/** The Apollo context of one router operation. */
export interface RouterContext {
  readonly caller: Caller;
  readonly requestId: string;
  readonly record: RequestRecord;
  /** The caller header for one subgraph request of this operation (bound to that subgraph and request). */
  signedCaller(binding: CallerBinding): Promise<string>;
  /** Present when the transport can stream results (graphql-ws, SSE); absent over plain HTTP. */
  readonly stream?: StreamSlot;
}

/**
 * The record of the operation being served. `formatError` has no request
 * argument, yet every error it formats belongs to the operation in whose
 * async context it runs.
 */
export const requestScope = new AsyncLocalStorage<RequestRecord>();

/** Records one error code on the current request, if there is one. */
export function recordErrorCode(code: unknown, record = requestScope.getStore()): void {
  if (record && typeof code === 'string' && !record.errorCodes.includes(code)) {
    record.errorCodes.push(code);
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's `x-request-id` when it is a sane token, otherwise a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,127}$/;

/**
 * Records the `operationName` a client sent, so that a request refused
 * before Apollo resolves its operation is still logged under that name.
 * Anything that is not a GraphQL name is ignored (it would be a label).
 */
export function recordSentOperationName(record: RequestRecord, sent: unknown): void {
  if (typeof sent === 'string' && GRAPHQL_NAME.test(sent)) record.operationName = sent;
}

/** A new record for an operation that just arrived. */
export function newRequestRecord(
  requestId: string,
  transport: Transport = 'http',
  clientAddress?: string,
): RequestRecord {
  return {
    requestId,
    transport,
    ...(clientAddress ? { clientAddress } : {}),
    startedAt: process.hrtime.bigint(),
    operationName: null,
    operationType: null,
    caller: null,
    errorCodes: [],
    hasData: false,
    logged: false,
  };
}

/** Builds the context of one operation; see {@link createContextBuilder}. */
export type ContextBuilder = (
  caller: Caller,
  record: RequestRecord,
  stream?: StreamSlot,
) => RouterContext;

/**
 * The context of an operation's fetches that select only `@shared` fields:
 * the same request (id, record, stream) as `context`, signed as the
 * anonymous caller without a client address, so every caller's identical
 * shared fetch is the same fetch and may be sent once. The record keeps
 * its own caller.
 */
export function anonymousContextOf(context: RouterContext, sign: CallerSigner): RouterContext {
  return {
    caller: ANONYMOUS,
    requestId: context.requestId,
    record: context.record,
    signedCaller: (binding) => sign(ANONYMOUS, binding),
    ...(context.stream ? { stream: context.stream } : {}),
  };
}

/**
 * The one place an operation's context is built, whatever the transport:
 * the verified caller (also noted on the record for the log line), the
 * request id, and the signer of the caller header its subgraph fetches carry.
 */
export function createContextBuilder(sign: CallerSigner): ContextBuilder {
  return (caller, record, stream) => {
    record.caller = caller;
    // The address travels with the caller, signed, so a subgraph can trust it.
    const forwarded = record.clientAddress
      ? { ...caller, clientAddress: record.clientAddress }
      : caller;
    return {
      caller,
      requestId: record.requestId,
      record,
      // Signed per fetch: each signature is bound to its subgraph and request.
      signedCaller: (binding) => sign(forwarded, binding),
      ...(stream ? { stream } : {}),
    };
  };
}
