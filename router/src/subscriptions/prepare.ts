import {
  getOperationAST,
  OperationTypeNode,
  GraphQLError,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { parseOperation } from '../limits.js';
import type { SubscriptionPlan, SubscriptionPlanner } from './planner.js';

/** A client request as graphql-ws and SSE carry it. */
export interface OperationRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

/** An operation checked like Apollo Server checks HTTP requests: parsed, validated, limited, coerced. */
export type PreparedOperation =
  | {
      kind: 'subscription';
      document: DocumentNode;
      operationName: string | null;
      variables: Record<string, unknown>;
      plan: SubscriptionPlan;
    }
  | {
      kind: 'query' | 'mutation';
      document: DocumentNode;
      source: string;
      operationName: string | null;
      variables: Record<string, unknown>;
    }
  | { kind: 'errors'; errors: GraphQLFormattedError[] };

/**
 * Checks one operation for the streaming transports, under the same limits
 * as HTTP. Errors come back formatted (codes unwrapped, internals masked).
 */
export function createPreparer(options: {
  planner: SubscriptionPlanner;
  validationRules: readonly ValidationRule[];
  maxTokens: number;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}) {
  const rules = [...specifiedRules, ...options.validationRules];
  const fail = (errors: readonly GraphQLError[]): PreparedOperation => ({
    kind: 'errors',
    errors: errors.map((e) => options.formatError(e.toJSON(), e)),
  });
  const badRequest = (message: string) =>
    fail([new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } })]);

  return (request: OperationRequest): PreparedOperation => {
    const { query, operationName, variables } = request;
    if (typeof query !== 'string' || !query.trim())
      return badRequest('A query string is required.');
    if (operationName != null && typeof operationName !== 'string') {
      return badRequest('operationName must be a string.');
    }
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) {
      return badRequest('variables must be an object.');
    }
    let document: DocumentNode;
    try {
      document = parseOperation(query, options.maxTokens);
    } catch (error) {
      return fail([error instanceof GraphQLError ? error : new GraphQLError(String(error))]);
    }
    const { apiSchema } = options.planner;
    const validationErrors = validate(apiSchema, document, rules);
    if (validationErrors.length) return fail(validationErrors);
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return badRequest('Could not determine which operation to run.');
    const coerced = getVariableValues(
      apiSchema,
      operation.variableDefinitions ?? [],
      (variables ?? {}) as Record<string, unknown>,
    );
    if (coerced.errors) return fail(coerced.errors);
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      return {
        kind: operation.operation === OperationTypeNode.MUTATION ? 'mutation' : 'query',
        document,
        source: query,
        operationName: operationName ?? null,
        variables: (variables ?? {}) as Record<string, unknown>,
      };
    }
    try {
      return {
        kind: 'subscription',
        document,
        operationName: operationName ?? null,
        variables: coerced.coerced,
        plan: options.planner.plan(document, operationName),
      };
    } catch (error) {
      return fail([
        error instanceof GraphQLError
          ? error
          : new GraphQLError('Unexpected error.', { originalError: error as Error }),
      ]);
    }
  };
}
