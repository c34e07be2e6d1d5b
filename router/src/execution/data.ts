/**
 * Moving subgraph data into the merged result: what @apollo/gateway's
 * executeQueryPlan.js, deepMerge.js and dataRewrites.js do, with the same
 * outcome, but without per-element array copies (its path walking
 * destructures `[head, ...rest]` at every step) or schema lookups.
 */
import type { FetchDataRewrite, QueryPlanSelectionNode, ResponsePath } from '@apollo/query-planner';
import type { TypeIndex } from './type-index.js';

/** A JSON object of the merged result (subgraph data, parsed). */
export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property, also for a key that would otherwise set the prototype. */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/**
 * Merges `source` into `target` in place: objects merge key by key, lists
 * of the same length element by element, anything else replaces what was
 * there; undefined values are skipped (the gateway's `deepMerge`).
 */
export function deepMerge(target: JsonObject, source: unknown): void {
  if (source === undefined || source === null) return;
  const from = source as JsonObject;
  for (const key of Object.keys(from)) {
    const value = from[key];
    if (value === undefined) continue;
    const existing = Object.hasOwn(target, key) ? target[key] : undefined;
    if (existing && isObject(value)) {
      deepMerge(existing as JsonObject, value);
    } else if (
      Array.isArray(value) &&
      Array.isArray(existing) &&
      value.length === existing.length
    ) {
      for (let i = 0; i < value.length; i++) {
        const element: unknown = value[i];
        if (isObject(existing[i]) && isObject(element))
          deepMerge(existing[i] as JsonObject, element);
        else existing[i] = element;
      }
    } else if (key === '__proto__') {
      setOwn(target, key, value);
    } else {
      target[key] = value;
    }
  }
}

/**
 * The values at `path` under `value`, `@` standing for every element of a
 * list; lists met along the way are flattened into one (the gateway's
 * `flattenResultsAtPath`). Null or missing values stay in the result where
 * they are met at the end of the path and are dropped on the way.
 */
export function valuesAtPath(value: unknown, path: ResponsePath): unknown {
  return walk(value, path, 0);
}

function walk(value: unknown, path: ResponsePath, index: number): unknown {
  if (index === path.length || value === undefined || value === null) return value;
  const head = path[index]!;
  if (head === '@') {
    if (!Array.isArray(value)) throw new Error('Expected a list where the plan has "@"');
    const out: unknown[] = [];
    for (const element of value) {
      const found = walk(element, path, index + 1);
      if (Array.isArray(found)) for (const one of found) out.push(one);
      else out.push(found);
    }
    return out;
  }
  if (typeof head !== 'string') throw new Error(`Unexpected ${typeof head} found in path`);
  if (Array.isArray(value)) throw new Error(`Unexpected array in result for path element ${head}`);
  const object = value as JsonObject;
  return walk(Object.hasOwn(object, head) ? object[head] : undefined, path, index + 1);
}

/**
 * The response path of every non-null value at `path` under `root`, in the
 * order {@link valuesAtPath} lists them (the gateway's
 * `generateHydratedPaths`): where entity errors point.
 */
export function pathsAt(root: unknown, path: ResponsePath): (string | number)[][] {
  const out: (string | number)[][] = [];
  const current: (string | number)[] = [];
  const visit = (data: unknown, index: number): void => {
    if (data === null || data === undefined) return;
    if (index === path.length) {
      out.push(current.slice());
      return;
    }
    const head = path[index]!;
    if (head === '@' || (typeof head === 'string' && Array.isArray(data))) {
      if (!Array.isArray(data)) throw new Error('expected array when encountering `@`');
      for (let i = 0; i < data.length; i++) {
        current.push(i);
        visit(data[i], head === '@' ? index + 1 : index);
        current.pop();
      }
      return;
    }
    const object = data as JsonObject;
    if (typeof head === 'string' && Object.hasOwn(object, head)) {
      current.push(head);
      visit(object[head], index + 1);
      current.pop();
    }
  };
  visit(root, 0);
  return out;
}

/** Builds one entity's representation from its merged data; null when data it needs is missing. */
export type RepresentationBuilder = (entity: unknown) => JsonObject | null;

/**
 * Compiles a fetch's `requires` selection into a {@link RepresentationBuilder}
 * (the gateway's `executeSelectionSet`): each field is copied by response
 * name, lists element by element; a missing field makes the whole
 * representation null; an inline fragment applies when the object is of its
 * type (see {@link TypeIndex.isObjectOfType}).
 */
export function compileRequires(
  selections: readonly QueryPlanSelectionNode[],
  types: TypeIndex,
): RepresentationBuilder {
  const steps = selections.map((selection) => {
    if (selection.kind === 'Field') {
      const name = selection.alias ?? selection.name;
      return {
        field: true as const,
        name,
        // Set as an own property by definition only for the one name that needs it.
        proto: name === '__proto__',
        sub: selection.selections ? compileRequires(selection.selections, types) : undefined,
      };
    }
    return {
      field: false as const,
      condition: selection.typeCondition,
      sub: compileRequires(selection.selections, types),
    };
  });
  const build = (source: unknown): JsonObject | null => {
    if (source === null) return null;
    const object = source as JsonObject;
    const result: JsonObject = {};
    for (const step of steps) {
      if (step.field) {
        const value = Object.hasOwn(object, step.name) ? object[step.name] : undefined;
        if (value === undefined) return null;
        const sub = step.sub;
        const copied = !sub
          ? value
          : Array.isArray(value)
            ? value.map((element) => sub(element))
            : sub(value);
        if (step.proto) setOwn(result, step.name, copied);
        else result[step.name] = copied;
      } else if (
        step.condition !== undefined &&
        source &&
        types.isObjectOfType(object.__typename, step.condition)
      ) {
        deepMerge(result, step.sub(source));
      }
    }
    return result;
  };
  return build;
}

/** Applies a fetch's input or output rewrites to `value` in place (the gateway's `applyRewrites`). */
export function applyRewrites(
  rewrites: readonly FetchDataRewrite[] | undefined,
  value: unknown,
  types: TypeIndex,
): void {
  if (!rewrites) return;
  for (const rewrite of rewrites) {
    if (rewrite.path.length === 0) continue;
    const field = rewrite.path[rewrite.path.length - 1]!;
    if (field.startsWith(FRAGMENT_PREFIX)) {
      throw new Error(`Unexpected fragment as last element of ${rewrite.path.join(',')}`);
    }
    const apply = (object: JsonObject) => {
      if (rewrite.kind === 'ValueSetter') {
        setOwn(object, field, rewrite.setValueTo);
      } else {
        const moved = Object.hasOwn(object, field) ? object[field] : undefined;
        if (moved) {
          setOwn(object, rewrite.renameKeyTo, moved);
          object[field] = undefined;
        }
      }
    };
    applyAt(rewrite.path, 0, rewrite.path.length - 1, value, apply, types);
  }
}

const FRAGMENT_PREFIX = '... on ';

function applyAt(
  path: readonly string[],
  index: number,
  end: number,
  value: unknown,
  apply: (object: JsonObject) => void,
  types: TypeIndex,
): void {
  if (Array.isArray(value)) {
    for (const element of value) applyAt(path, index, end, element, apply, types);
    return;
  }
  if (!isObject(value)) return;
  if (index === end) {
    apply(value);
    return;
  }
  const element = path[index]!;
  if (element.startsWith(FRAGMENT_PREFIX)) {
    if (types.isObjectOfType(value.__typename, element.slice(FRAGMENT_PREFIX.length), true)) {
      applyAt(path, index + 1, end, value, apply, types);
    }
  } else {
    applyAt(
      path,
      index + 1,
      end,
      Object.hasOwn(value, element) ? value[element] : undefined,
      apply,
      types,
    );
  }
}
