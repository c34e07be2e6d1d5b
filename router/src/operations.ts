import {
  HeaderMap,
  type ApolloServer,
  type ApolloServerPlugin,
  type HTTPGraphQLRequest,
} from '@apollo/server';
import {
  getVariableValues,
  GraphQLError,
  OperationTypeNode,
  type DocumentNode,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import type { Caller } from '@arcadia/auth';
import { ErrorCode } from '@arcadia/errors';
import {
  recordSentOperationName,
  requestScope,
  type AdmittedSubscription,
  type ContextBuilder,
  type RequestRecord,
  type RouterContext,
  type StreamSlot,
} from './request-context.js';
import type { SubscriptionPlanner } from './subscriptions/planner.js';

/** A GraphQL request as graphql-ws and graphql-sse hand it over (both check its shape). */
export interface OperationRequest {
  query?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: Record<string, unknown> | null;
}

/** What became of an operation a streaming transport ran. */
export type OperationOutcome =
  /**
   * A query or mutation ran, or the operation was refused (parse,
   * validation, limits, APQ, variables): `result` is the response body over
   * HTTP, errors already formatted, and `status` the HTTP status it gets there.
   */
  | {
      kind: 'result';
      status: number;
      result: FormattedExecutionResult;
      /** The parsed operation, when Apollo got that far. */
      document: DocumentNode | undefined;
    }
  /** A subscription passed every check; the transport starts it on the engine. */
  | { kind: 'subscription'; subscription: AdmittedSubscription };

/** Runs one operation that arrived over a streaming transport; see {@link createOperationRunner}. */
export type OperationRunner = (
  request: OperationRequest,
  options: {
    caller: Caller;
    record: RequestRecord;
    /** The HTTP request it came in (SSE), for Apollo's method rules (no mutation over GET). */
    http?: Pick<HTTPGraphQLRequest, 'method'>;
  },
) => Promise<OperationOutcome>;

/**
 * The operation path of graphql-ws and SSE: Apollo Server's request
 * pipeline, the one HTTP requests take, with the context of the one
 * context builder. So every operation, whatever its transport, is parsed
 * and validated once under the same limits, may use persisted queries,
 * gets the same errors and is recorded on its record for the access log.
 * Subscriptions stop after validation (see {@link streamingOperationsPlugin})
 * and come back admitted instead of executed.
 */
export function createOperationRunner(deps: {
  apollo: ApolloServer<RouterContext>;
  buildContext: ContextBuilder;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}): OperationRunner {
  return async (request, { caller, record, http }) => {
    recordSentOperationName(record, request.operationName);
    const stream: StreamSlot = {};
    const contextValue = deps.buildContext(caller, record, stream);
    return requestScope.run(record, async (): Promise<OperationOutcome> => {
      // What HTTP answers when Apollo itself fails: the masked error, logged.
      const internalFailure = (error: unknown): OperationOutcome => ({
        kind: 'result',
        status: 500,
        result: { errors: [deps.formatError({ message: String(error) }, error)] },
        document: undefined,
      });
      let response;
      try {
        response = await deps.apollo.executeOperation(
          {
            // graphql-ws and graphql-sse insist on a query string, so a client
            // sending only a persisted query's hash sends an empty one.
            ...(request.query ? { query: request.query } : {}),
            ...(request.operationName != null ? { operationName: request.operationName } : {}),
            ...(request.variables != null ? { variables: request.variables } : {}),
            ...(request.extensions != null ? { extensions: request.extensions } : {}),
            ...(http
              ? { http: { method: http.method, headers: new HeaderMap(), search: '', body: null } }
              : {}),
          },
          { contextValue },
        );
      } catch (error) {
        return internalFailure(error);
      }
      if (stream.subscription) return { kind: 'subscription', subscription: stream.subscription };
      if (response.body.kind !== 'single') {
        // The gateway executor never answers incrementally; should it ever, say so.
        return internalFailure(new Error('Apollo answered with incremental delivery.'));
      }
      return {
        kind: 'result',
        status: response.http.status ?? 200,
        result: response.body.singleResult,
        document: stream.document,
      };
    });
  };
}

/** Why plain HTTP refuses a subscription. */
const SUBSCRIPTIONS_NOT_OVER_HTTP =
  'Subscriptions are served over graphql-ws on this path, or over Server-Sent Events with "Accept: text/event-stream".';

/**
 * Where subscriptions leave Apollo's pipeline. After parsing, validation
 * and the limits, a subscription that came over a streaming transport
 * (its context has a {@link StreamSlot}) has its variables coerced and is
 * planned by the federation query planner, then handed back through the
 * slot in place of executing it (the gateway cannot); over plain HTTP it
 * is refused with BAD_REQUEST, saying where subscriptions are served.
 */
export function streamingOperationsPlugin(
  planner: SubscriptionPlanner,
): ApolloServerPlugin<RouterContext> {
  return {
    requestDidStart: ({ contextValue }) => {
      const { stream } = contextValue;
      return Promise.resolve({
        didResolveOperation: ({ document, operation, operationName, request, schema }) => {
          if (stream) stream.document = document;
          if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return Promise.resolve();
          if (!stream) {
            throw new GraphQLError(SUBSCRIPTIONS_NOT_OVER_HTTP, {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          }
          const coerced = getVariableValues(
            schema,
            operation.variableDefinitions ?? [],
            request.variables ?? {},
          );
          if (coerced.errors) {
            // Apollo can raise one error from here; the first says what to fix.
            const [first] = coerced.errors;
            throw new GraphQLError(first!.message, {
              nodes: first!.nodes ?? null,
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
          stream.subscription = {
            document,
            operationName,
            variables: coerced.coerced,
            plan: planner.plan(document, operationName),
          };
          return Promise.resolve();
        },
        // Not executed: the transport starts the admitted subscription.
        responseForOperation: () =>
          Promise.resolve(
            stream?.subscription
              ? { http: { headers: new HeaderMap() }, body: { kind: 'single', singleResult: {} } }
              : null,
          ),
      });
    },
  };
}
