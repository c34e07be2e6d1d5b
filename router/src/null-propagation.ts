/**
 * Nulls the gateway leaves unexplained. When a subgraph returns null for a
 * field the schema says is non-null — typically an entity fetch (`_entities`)
 * answering null for a reference to something its subgraph does not have —
 * @apollo/gateway propagates the null up to the nearest nullable field, as
 * GraphQL requires, but reports why only in a non-standard
 * `extensions.valueCompletion` (and not at all when a subgraph also returned
 * errors). A client then gets `{"data": null}` with no `errors`: no path, no
 * code, nothing to act on. This turns those reports into ordinary errors
 * and makes sure a response never has null data without an error.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '@arcadia/errors';

/** The `formatError` the router formats every error with (codes recorded, the unexpected masked). */
export type FormatError = (
  formatted: GraphQLFormattedError,
  error: unknown,
) => GraphQLFormattedError;

/** A result as the gateway hands it to Apollo Server, or as Apollo formats it. */
export interface ShapedResult {
  readonly data?: unknown;
  readonly errors?: readonly { readonly path?: readonly (string | number)[] }[] | undefined;
  readonly extensions?: Record<string, unknown> | undefined;
}

/** Where @apollo/gateway puts the errors of its result shaping (executeQueryPlan.js). */
const VALUE_COMPLETION = 'valueCompletion';

// The gateway's own wording for a null in a non-null position (resultShaping.js).
const NULL_FOR_NON_NULL = /^Cannot return null for non-nullable /;

/** True when one path is the other or lies under it: an error there explains a null here. */
function related(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The errors `result` lacks: one per null the gateway put where the schema
 * says non-null that no error of the result already covers (an error at the
 * same path, above it or below it), and one for null data with no error at
 * all. Each carries the path of the field that came back null.
 *
 * A missing non-null value is NOT_FOUND: the subgraph that resolves the
 * field had nothing for it — in practice a reference to an entity its
 * owner does not know (a deleted or never-existing user), which federation
 * resolves to null. That is what the client needs to know to skip the item
 * and what the path points at; it is neither the client's input
 * (BAD_USER_INPUT) nor a crash, and INTERNAL_SERVER_ERROR would be masked
 * to "Unexpected error." and logged as a bug. Anything else the gateway's
 * result shaping reports (a leaf value that is not of its type, an unknown
 * `__typename`) is a subgraph breaking its own schema: INTERNAL_SERVER_ERROR.
 */
export function unexplainedNullErrors(result: ShapedResult): GraphQLError[] {
  const completion = result.extensions?.[VALUE_COMPLETION];
  const reported = Array.isArray(completion)
    ? (completion as { message?: unknown; path?: unknown }[])
    : [];
  const covered = (result.errors ?? []).map((e) => e.path ?? []);
  const added: GraphQLError[] = [];
  for (const entry of reported) {
    const path = Array.isArray(entry.path) ? (entry.path as (string | number)[]) : [];
    if (covered.some((other) => related(other, path))) continue;
    const message = typeof entry.message === 'string' ? entry.message : 'Invalid value.';
    const missing = NULL_FOR_NON_NULL.test(message);
    added.push(
      new GraphQLError(
        missing
          ? `${message.replace(/\.$/, '')}: the subgraph resolving it had nothing for it (usually a reference to something that does not exist).`
          : message,
        {
          path,
          extensions: { code: missing ? ErrorCode.NOT_FOUND : ErrorCode.INTERNAL_SERVER_ERROR },
        },
      ),
    );
    covered.push(path);
  }
  if (result.data === null && !covered.length) {
    added.push(
      new GraphQLError('The response has no data and no error said why.', {
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
      }),
    );
  }
  return added;
}

/**
 * `result` with the errors {@link unexplainedNullErrors} finds appended
 * (formatted with `formatError`) and the gateway's `valueCompletion`
 * removed (it is the gateway's internal report, with its internal codes).
 */
export function explainNulls<T extends ShapedResult>(
  result: T,
  formatError: FormatError,
): T & { errors?: GraphQLFormattedError[] } {
  const added = unexplainedNullErrors(result);
  const { [VALUE_COMPLETION]: _report, ...extensions } = result.extensions ?? {};
  if (!added.length && !result.extensions?.[VALUE_COMPLETION]) {
    return result as T & { errors?: GraphQLFormattedError[] };
  }
  const errors = [
    ...((result.errors ?? []) as GraphQLFormattedError[]),
    ...added.map((error) => formatError(error.toJSON(), error)),
  ];
  const { extensions: _old, ...rest } = result;
  return {
    ...rest,
    ...(errors.length ? { errors } : {}),
    ...(Object.keys(extensions).length ? { extensions } : {}),
  } as T & { errors?: GraphQLFormattedError[] };
}

/**
 * Apollo Server plugin: every query and mutation response (over any
 * transport) gets an error for each null the gateway propagated without
 * one; see {@link explainNulls}.
 */
export function nullPropagationPlugin(formatError: FormatError): ApolloServerPlugin {
  return {
    requestDidStart: () =>
      Promise.resolve({
        willSendResponse: ({ response }) => {
          const body = response.body;
          if (body.kind === 'single') {
            body.singleResult = explainNulls(body.singleResult, formatError);
          } else {
            body.initialResult = explainNulls(body.initialResult, formatError);
          }
          return Promise.resolve();
        },
      }),
  };
}
