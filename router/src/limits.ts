import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type ASTVisitor,
  type GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  visitInParallel,
} from 'graphql';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { RouterContext } from './request-context.js';

/** The operation limits of the router (see env.ts for the defaults). */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxRootFields: number;
  maxDirectives: number;
  /** `ofType` fields along one path of an introspection query (the standard query has 9). */
  maxIntrospectionDepth: number;
  /** When introspection is off, "Did you mean …" hints would leak field names. */
  blockFieldSuggestions: boolean;
}

/** Which limit an operation broke, in `extensions.limit`. */
export type LimitName =
  'depth' | 'aliases' | 'cost' | 'tokens' | 'rootFields' | 'directives' | 'introspectionDepth';

/** The QUERY_TOO_COMPLEX error of a broken limit. */
function tooComplex(message: string, limit: LimitName): UserError {
  return new UserError(ErrorCode.QUERY_TOO_COMPLEX, message, { limit });
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

/** Reports one broken limit of the validation under way. */
type Reject = (limit: LimitName, message: string) => void;

/**
 * Caps the number of root fields per operation: each one is at least one
 * resolver and often a subgraph fetch, and graphql-armor has no such limit.
 */
function maxRootFieldsVisitor(context: ValidationContext, max: number, reject: Reject): ASTVisitor {
  return {
    OperationDefinition(node) {
      const count = countFields(node.selectionSet, context, new Set());
      if (count > max) reject('rootFields', `Root field limit of ${max} exceeded, found ${count}.`);
      // The rule only needs the top level.
      return false;
    },
  };
}

/**
 * Caps the `ofType` fields along any one path of an operation. graphql-armor's
 * depth and cost rules skip `__schema` (the standard introspection query is
 * deeper than operations may be), and graphql-js's own introspection rule
 * counts only the list fields (`fields`, `interfaces`, `possibleTypes`,
 * `inputFields`): without this, `ofType` nested fifty deep is answered.
 * `ofType` exists only on `__Type`, so the field name alone identifies it.
 * A fragment's depth is computed once per validation (fragments spread
 * each other without bound otherwise); a cycle counts as 0 here and is
 * refused by graphql-js's NoFragmentCyclesRule.
 */
function maxIntrospectionDepthVisitor(
  context: ValidationContext,
  max: number,
  reject: Reject,
): ASTVisitor {
  const fragmentDepths = new Map<string, number>();
  const depth = (selectionSet: SelectionSetNode): number => {
    let deepest = 0;
    for (const selection of selectionSet.selections) {
      let found = 0;
      if (selection.kind === Kind.FIELD) {
        const below = selection.selectionSet ? depth(selection.selectionSet) : 0;
        found = below + (selection.name.value === 'ofType' ? 1 : 0);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        found = depth(selection.selectionSet);
      } else {
        const name = selection.name.value;
        if (!fragmentDepths.has(name)) {
          // Marks the fragment as under way, so that a cycle ends here.
          fragmentDepths.set(name, 0);
          const fragment = context.getFragment(name);
          if (fragment) fragmentDepths.set(name, depth(fragment.selectionSet));
        }
        found = fragmentDepths.get(name)!;
      }
      deepest = Math.max(deepest, found);
    }
    return deepest;
  };
  return {
    OperationDefinition(node) {
      const found = depth(node.selectionSet);
      if (found > max) {
        reject(
          'introspectionDepth',
          `Introspection depth limit of ${max} exceeded, found ${found}.`,
        );
      }
      return false;
    },
  };
}

/**
 * graphql-armor's depth, aliases, cost and directives rules, reporting to
 * `reject` (armor's default for Apollo reports BAD_USER_INPUT). Built per
 * validation so that `reject` can close over that validation's state; it
 * is a handful of small objects, and Apollo validates each distinct
 * document once (its document store keeps validated ones).
 */
function armorRules(limits: QueryLimits, reject: Reject): ValidationRule[] {
  const onReject =
    (limit: LimitName) =>
    (_context: ValidationContext | null, error: GraphQLError): void =>
      reject(limit, error.message.replace(/^Syntax Error:\s*/, ''));
  const options = (limit: LimitName) => ({
    onReject: [onReject(limit)],
    propagateOnRejection: false,
  });
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ...options('depth') },
    maxAliases: { n: limits.maxAliases, ...options('aliases') },
    costLimit: { maxCost: limits.maxCost, ...options('cost') },
    maxDirectives: { n: limits.maxDirectives, ...options('directives') },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect().validationRules;
}

/**
 * One validation rule for every limit but tokens; must be the last rule.
 * Each broken limit is reported as QUERY_TOO_COMPLEX with
 * `extensions.limit`. Once a limit has rejected an operation, stops every
 * other rule from walking it: Apollo runs graphql-js's ~25 standard rules
 * in the same pass, and on a 1000-alias or 5000-token document they cost
 * tens of milliseconds that a rejected document should not get. Returning
 * `null` from `enter` is graphql-js's "delete this node" edit, which the
 * parallel visitor applies to all rules: the subtree is skipped.
 */
export function limitRule(limits: QueryLimits): ValidationRule {
  return (context) => {
    // This validation's state: whether a limit rejected the document.
    let rejected = false;
    const reject: Reject = (limit, message) => {
      rejected = true;
      context.reportError(tooComplex(message, limit));
    };
    const checks = [
      ...armorRules(limits, reject).map((rule) => rule(context)),
      maxRootFieldsVisitor(context, limits.maxRootFields, reject),
      maxIntrospectionDepthVisitor(context, limits.maxIntrospectionDepth, reject),
    ];
    const skip = () => (rejected ? null : undefined);
    // The checks run first on each definition, then `skip` sees their verdict.
    return visitInParallel([
      visitInParallel(checks),
      { OperationDefinition: skip, FragmentDefinition: skip },
    ]);
  };
}

/**
 * Tells the request's record when its parse failed on the token limit, so
 * `formatError` answers QUERY_TOO_COMPLEX instead of the parse failure
 * Apollo makes of it. Counting again is cheap (it stops at the limit) and
 * avoids matching graphql-js's message.
 */
export function tokenLimitPlugin(maxTokens: number): ApolloServerPlugin<RouterContext> {
  return {
    requestDidStart: ({ contextValue }) =>
      Promise.resolve({
        parsingDidStart: ({ source }) =>
          Promise.resolve((error?: Error) => {
            if (error && source !== undefined && exceedsTokens(source, maxTokens)) {
              contextValue.record.parseRejection = tooComplex(
                `Token limit of ${maxTokens} exceeded.`,
                'tokens',
              );
            }
            return Promise.resolve();
          }),
      }),
  };
}

/**
 * Validation rules, plugins and parse options that enforce the limits in
 * Apollo Server's request pipeline, which every operation goes through
 * whatever its transport. Tokens are counted by graphql-js's own parser
 * (`parseOptions`): armor's Apollo token plugin throws from a plugin hook,
 * which Apollo answers with a 500.
 */
export function queryLimits(limits: QueryLimits): {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<RouterContext>[];
  parseOptions: { maxTokens: number };
} {
  const suggestions = new ApolloArmor({
    maxDepth: { enabled: false },
    maxAliases: { enabled: false },
    costLimit: { enabled: false },
    maxDirectives: { enabled: false },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: limits.blockFieldSuggestions },
  }).protect().plugins as ApolloServerPlugin<RouterContext>[];
  return {
    validationRules: [limitRule(limits)],
    plugins: [...suggestions, tokenLimitPlugin(limits.maxTokens)],
    parseOptions: { maxTokens: limits.maxTokens },
  };
}
