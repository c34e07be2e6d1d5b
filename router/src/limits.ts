import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type DocumentNode,
  type GraphQLError,
  Kind,
  parse,
  Lexer,
  Source,
  TokenKind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { ErrorCode, UserError } from '@arcadia/errors';

/** The operation limits of the router (see env.ts for the defaults). */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxRootFields: number;
  maxDirectives: number;
  /** When introspection is off, "Did you mean …" hints would leak field names. */
  blockFieldSuggestions: boolean;
}

/** Which limit an operation broke, in `extensions.limit`. */
export type LimitName = 'depth' | 'aliases' | 'cost' | 'tokens' | 'rootFields' | 'directives';

function tooComplex(message: string, limit: LimitName): UserError {
  return new UserError(ErrorCode.QUERY_TOO_COMPLEX, message, { limit });
}

// Validations (one per validate() call) in which a limit was broken.
const rejectedValidations = new WeakSet<ValidationContext>();

// Parse errors Apollo wraps as GRAPHQL_PARSE_FAILED that were really the
// token limit; `formatError` looks them up to answer QUERY_TOO_COMPLEX.
const tokenLimitErrors = new WeakMap<object, UserError>();

/**
 * The QUERY_TOO_COMPLEX error a parse error stands for when the parse failed
 * on the token limit (Apollo reports those as GRAPHQL_PARSE_FAILED).
 */
export function tokenLimitErrorOf(parseError: object): UserError | undefined {
  return tokenLimitErrors.get(parseError);
}

/** True when `source` has more than `max` tokens; stops lexing at `max + 1`. */
function exceedsTokens(source: string, max: number): boolean {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      if (++count > max) return true;
    }
  } catch {
    // A lexing error is a plain syntax error, not the limit.
  }
  return false;
}

/** Counts the root fields of a selection set, following fragments once each. */
function countFields(
  selectionSet: SelectionSetNode,
  context: ValidationContext,
  visited: Set<string>,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      // __typename costs nothing to resolve; clients add it everywhere.
      if (selection.name.value !== '__typename') count++;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countFields(selection.selectionSet, context, visited);
    } else if (!visited.has(selection.name.value)) {
      visited.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      if (fragment) count += countFields(fragment.selectionSet, context, visited);
    }
  }
  return count;
}

/**
 * Caps the number of root fields per operation: each one is at least one
 * resolver and often a subgraph fetch, and graphql-armor has no such limit.
 */
export function maxRootFieldsRule(max: number): ValidationRule {
  return (context) => ({
    OperationDefinition(node) {
      const count = countFields(node.selectionSet, context, new Set());
      if (count > max) {
        rejectedValidations.add(context);
        context.reportError(
          tooComplex(`Root field limit of ${max} exceeded, found ${count}.`, 'rootFields'),
        );
      }
      // The rule only needs the top level.
      return false;
    },
  });
}

/**
 * Must be the last rule. Once a limit rule has rejected an operation, stops
 * every other rule from walking it: Apollo runs graphql-js's ~25 standard
 * rules in the same pass, and on a 1000-alias or 5000-token document they
 * cost tens of milliseconds that a rejected document should not get.
 * Returning `null` from `enter` is graphql-js's "delete this node" edit,
 * which the parallel visitor applies to all rules: the subtree is skipped.
 */
export const skipRejectedOperations: ValidationRule = (context) => {
  const skip = () => (rejectedValidations.has(context) ? null : undefined);
  return { OperationDefinition: skip, FragmentDefinition: skip };
};

/**
 * Validation rules and plugins that enforce the limits. Depth, aliases,
 * cost and directives are graphql-armor's rules, reporting into the
 * validation context (armor's default for Apollo reports BAD_USER_INPUT;
 * ours reports QUERY_TOO_COMPLEX). Tokens are counted by graphql-js's own
 * parser (`parseOptions`): armor's Apollo token plugin throws from a plugin
 * hook, which Apollo answers with a 500.
 */
export function queryLimits(limits: QueryLimits): {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<BaseContext>[];
  parseOptions: { maxTokens: number };
} {
  const report =
    (limit: LimitName) =>
    (context: ValidationContext | null, error: GraphQLError): void => {
      if (!context) return;
      rejectedValidations.add(context);
      context.reportError(tooComplex(error.message.replace(/^Syntax Error:\s*/, ''), limit));
    };
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, onReject: [report('depth')], propagateOnRejection: false },
    maxAliases: {
      n: limits.maxAliases,
      onReject: [report('aliases')],
      propagateOnRejection: false,
    },
    costLimit: {
      maxCost: limits.maxCost,
      onReject: [report('cost')],
      propagateOnRejection: false,
    },
    maxDirectives: {
      n: limits.maxDirectives,
      onReject: [report('directives')],
      propagateOnRejection: false,
    },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: limits.blockFieldSuggestions },
  }).protect();

  const tokenLimit: ApolloServerPlugin<BaseContext> = {
    requestDidStart: () =>
      Promise.resolve({
        parsingDidStart: ({ source }) =>
          Promise.resolve((error?: Error) => {
            // Only a failed parse can be the limit; counting again is cheap
            // (it stops at the limit) and avoids matching graphql-js's message.
            if (error && source !== undefined && exceedsTokens(source, limits.maxTokens)) {
              tokenLimitErrors.set(
                error,
                tooComplex(`Token limit of ${limits.maxTokens} exceeded.`, 'tokens'),
              );
            }
            return Promise.resolve();
          }),
      }),
  };

  return {
    validationRules: [
      ...armor.validationRules,
      maxRootFieldsRule(limits.maxRootFields),
      skipRejectedOperations,
    ],
    plugins: [...(armor.plugins as ApolloServerPlugin<BaseContext>[]), tokenLimit],
    parseOptions: { maxTokens: limits.maxTokens },
  };
}

/**
 * Parses an operation for the transports Apollo Server does not handle
 * (graphql-ws, SSE) under the same token limit: too many tokens is
 * QUERY_TOO_COMPLEX, any other failure the parser's own syntax error.
 */
export function parseOperation(source: string, maxTokens: number): DocumentNode {
  try {
    return parse(source, { maxTokens });
  } catch (error) {
    if (exceedsTokens(source, maxTokens)) {
      throw tooComplex(`Token limit of ${maxTokens} exceeded.`, 'tokens');
    }
    throw error;
  }
}
