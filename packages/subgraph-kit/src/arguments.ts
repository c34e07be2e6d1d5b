/**
 * The edge check every subgraph gets: no argument string carries a NUL or an
 * unpaired surrogate. No one types either, PostgreSQL refuses both in text,
 * and a store refusing one deep in a resolver surfaces as
 * INTERNAL_SERVER_ERROR; refusing them before any resolver runs makes them
 * BAD_USER_INPUT naming the argument.
 */
import { defaultFieldResolver, isObjectType, type GraphQLSchema } from 'graphql';
import { ErrorCode, userError } from '@arcadia/errors';

// With the `u` flag a well-formed pair is one astral code point, so only a lone half matches Cs.
const LONE_SURROGATE = /\p{Cs}/u;
const unstorable = (s: string) => s.includes('\u0000') || LONE_SURROGATE.test(s);

/** Where in `value` (an argument's coerced value) the first unstorable string is, or null. */
function findUnstorable(value: unknown, path: string): string | null {
  if (typeof value === 'string') return unstorable(value) ? path : null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findUnstorable(item, `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (unstorable(key)) return path;
      const found = findUnstorable(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Throws BAD_USER_INPUT when any argument holds a string with a NUL or an
 * unpaired surrogate, anywhere inside lists and input objects.
 * `extensions.field` is the top-level argument, as `parseInput` gives it.
 */
function checkArgumentStrings(args: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(args)) {
    const path = findUnstorable(value, name);
    if (path) {
      throw userError(
        ErrorCode.BAD_USER_INPUT,
        `\`${path}\` must not contain NUL characters or unpaired surrogates.`,
        { field: name },
      );
    }
  }
}

/**
 * Wraps, in place, the resolver (and subscriber) of every field that takes
 * arguments so {@link checkArgumentStrings} runs first; a new field or
 * subgraph is covered without doing anything. In place, as Apollo Server's
 * own instrumentation does, because a rebuilt schema (`mapSchema`) loses the
 * federation extension nodes `printSubgraphSchema` needs.
 */
export function withArgumentChecks(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        checkArgumentStrings(args as Record<string, unknown>);
        return resolve(source, args, context, info);
      };
      const subscribe = field.subscribe;
      if (subscribe) {
        field.subscribe = (source, args, context, info) => {
          checkArgumentStrings(args as Record<string, unknown>);
          return subscribe(source, args, context, info);
        };
      }
    }
  }
  return schema;
}
