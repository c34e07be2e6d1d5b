/**
 * Response shaping: turns the merged subgraph data of a plan into the
 * client's response, as @apollo/gateway's `computeResponse`
 * (resultShaping.js) does and with the same output — the client's fields
 * in the client's order under the client's aliases, `@skip`/`@include`,
 * fragments by runtime type, `__typename`, null propagation and the same
 * errors — but compiled once per operation: the selection walk reads
 * precomputed steps instead of asking federation-internals' operation
 * objects (and their re-export getters) for every value, and allocates
 * nothing per value but the output itself.
 */
import {
  executeSync,
  GraphQLError,
  isCompositeType,
  isLeafType,
  isListType,
  isNonNullType,
  isEnumType,
  isScalarType,
  Kind,
  OperationTypeNode,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type DirectiveNode,
} from 'graphql';
import { ERRORS } from '@apollo/federation-internals';
import { ErrorCode } from '@arcadia/errors';
import { setOwn } from './data.js';
import type { TypeIndex } from './type-index.js';

type Variables = Record<string, unknown>;

/** `@skip(if:)` / `@include(if:)` of one selection: a literal or a variable. */
interface Condition {
  readonly skip: boolean;
  readonly literal?: boolean;
  readonly variable?: string;
}

/** How a value of one output type is completed. */
type TypeStep =
  | { readonly kind: 'nonNull'; readonly of: TypeStep; readonly ofName: string }
  | { readonly kind: 'list'; readonly of: TypeStep; readonly name: string }
  | { readonly kind: 'composite'; readonly name: string }
  | { readonly kind: 'leaf'; readonly name: string; readonly valid: (value: unknown) => boolean };

interface FieldStep {
  readonly kind: 'field';
  /** The response name is `__proto__`: set as an own property by definition. */
  readonly proto: boolean;
  readonly conditions: readonly Condition[] | undefined;
  readonly responseName: string;
  /** `__typename` (under whatever alias). */
  readonly typename: boolean;
  /** `__schema` or `__type`: answered by graphql-js from the API schema. */
  readonly introspection: FieldNode | undefined;
  readonly type: TypeStep | undefined;
  readonly selections: readonly Step[] | undefined;
}

interface FragmentStep {
  readonly kind: 'fragment';
  readonly conditions: readonly Condition[] | undefined;
  readonly typeCondition: string | undefined;
  readonly selections: readonly Step[];
}

type Step = FieldStep | FragmentStep;

/** One client operation, compiled for shaping. */
export interface ShapePlan {
  readonly rootType: string;
  readonly selections: readonly Step[];
  /** Variable default values, under which the request's variables are laid. */
  readonly defaults: Variables;
  readonly operation: OperationDefinitionNode;
  readonly fragments: readonly FragmentDefinitionNode[];
}

/** What {@link shapeResponse} produced: the client's data and the errors of its completion. */
export interface Shaped {
  readonly data: Record<string, unknown> | null;
  /** Completion errors as the gateway reports them (its `valueCompletion`). */
  readonly errors: GraphQLError[];
  /** Errors the gateway does not report at all, which the client must get (see {@link ShapeRun.complete}). */
  readonly fieldErrors: GraphQLError[];
}

const INVALID: unique symbol = Symbol('invalid');

/** Compiles `operation` of `document` (validated against `schema`, the API schema) for shaping. */
export function compileShape(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  document: DocumentNode,
): ShapePlan {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  const rootType = schema.getRootType(operation.operation);
  if (!rootType)
    throw new GraphQLError(`Schema is not configured to execute ${operation.operation} operation.`);
  const typeSteps = new Map<GraphQLOutputType, TypeStep>();
  const typeStep = (type: GraphQLOutputType): TypeStep => {
    let step = typeSteps.get(type);
    if (step) return step;
    if (isNonNullType(type)) {
      step = { kind: 'nonNull', of: typeStep(type.ofType), ofName: String(type.ofType) };
    } else if (isListType(type)) {
      step = { kind: 'list', of: typeStep(type.ofType), name: String(type) };
    } else if (isCompositeType(type)) {
      step = { kind: 'composite', name: type.name };
    } else {
      step = { kind: 'leaf', name: type.name, valid: leafCheck(type) };
    }
    typeSteps.set(type, step);
    return step;
  };
  const compileSet = (set: SelectionSetNode, parent: GraphQLCompositeType): Step[] => {
    const steps: Step[] = [];
    for (const selection of set.selections) {
      const conditions = conditionsOf(selection.directives);
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const responseName = selection.alias?.value ?? name;
        // Meta fields: `__typename` from the data, `__schema`/`__type` from graphql-js.
        const introspection = name === '__schema' || name === '__type';
        if (name === '__typename' || introspection) {
          steps.push({
            kind: 'field',
            proto: responseName === '__proto__',
            conditions,
            responseName,
            typename: !introspection,
            introspection: introspection ? selection : undefined,
            type: undefined,
            selections: undefined,
          });
          continue;
        }
        if (!('getFields' in parent))
          throw new GraphQLError(`Cannot query field "${name}" on type "${parent.name}".`);
        const definition = parent.getFields()[name];
        if (!definition)
          throw new GraphQLError(`Cannot query field "${name}" on type "${parent.name}".`);
        let named: GraphQLOutputType = definition.type;
        while (isNonNullType(named) || isListType(named)) named = named.ofType;
        steps.push({
          kind: 'field',
          proto: responseName === '__proto__',
          conditions,
          responseName,
          typename: false,
          introspection: undefined,
          type: typeStep(definition.type),
          selections:
            selection.selectionSet && isCompositeType(named)
              ? compileSet(selection.selectionSet, named)
              : undefined,
        });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition?.name.value;
        const scope = condition ? (schema.getType(condition) as GraphQLCompositeType) : parent;
        steps.push({
          kind: 'fragment',
          conditions,
          typeCondition: condition,
          selections: compileSet(selection.selectionSet, scope),
        });
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment) throw new GraphQLError(`Unknown fragment "${selection.name.value}".`);
        const condition = fragment.typeCondition.name.value;
        steps.push({
          kind: 'fragment',
          conditions,
          typeCondition: condition,
          selections: compileSet(
            fragment.selectionSet,
            schema.getType(condition) as GraphQLCompositeType,
          ),
        });
      }
    }
    return steps;
  };
  const defaults: Variables = {};
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) {
      defaults[definition.variable.name.value] = valueFromASTUntyped(definition.defaultValue);
    }
  }
  return {
    rootType: rootType.name,
    selections: compileSet(operation.selectionSet, rootType),
    defaults,
    operation,
    fragments: [...fragments.values()],
  };
}

function conditionsOf(directives: readonly DirectiveNode[] | undefined): Condition[] | undefined {
  let out: Condition[] | undefined;
  for (const directive of directives ?? []) {
    const name = directive.name.value;
    if (name !== 'skip' && name !== 'include') continue;
    const arg = directive.arguments?.find((a) => a.name.value === 'if');
    if (!arg) continue;
    const skip = name === 'skip';
    const condition: Condition =
      arg.value.kind === Kind.VARIABLE
        ? { skip, variable: arg.value.name.value }
        : { skip, literal: arg.value.kind === Kind.BOOLEAN && arg.value.value };
    (out ??= []).push(condition);
  }
  return out;
}

// federation-internals' isValidLeafValue: custom scalars take anything;
// Int and ID numbers must be integers; strings fit anything but Boolean,
// Int and Float; enums must name one of their values.
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
function leafCheck(type: GraphQLOutputType): (value: unknown) => boolean {
  if (!isLeafType(type)) return () => false;
  const builtIn =
    isScalarType(type) && ['Int', 'Float', 'String', 'Boolean', 'ID'].includes(type.name);
  if (isScalarType(type) && !builtIn) return () => true;
  const name = type.name;
  const enumValues = isEnumType(type) ? new Set(type.getValues().map((v) => v.name)) : undefined;
  return (value) => {
    if (typeof value === 'boolean') return name === 'Boolean';
    if (typeof value === 'number' && Number.isFinite(value)) {
      if (name === 'Int' || name === 'ID') return INTEGER.test(String(value));
      return name === 'Float';
    }
    if (typeof value === 'string') {
      if (enumValues) return enumValues.has(value);
      return name !== 'Boolean' && name !== 'Int' && name !== 'Float';
    }
    return false;
  };
}

/**
 * Shapes `input` (the merged data of the plan's fetches) by `plan`, with
 * the request's `variables` — the same data and completion errors as the
 * gateway's `computeResponse`.
 */
export function shapeResponse(
  plan: ShapePlan,
  input: Record<string, unknown>,
  variables: Variables | undefined,
  schema: GraphQLSchema,
  types: TypeIndex,
): Shaped {
  const run = new ShapeRun(plan, variables, schema, types);
  const data: Record<string, unknown> = {};
  const ok = run.apply(plan.selections, input, data, plan.rootType);
  return { data: ok ? data : null, errors: run.errors, fieldErrors: run.fieldErrors };
}

class ShapeRun {
  readonly errors: GraphQLError[] = [];
  readonly fieldErrors: GraphQLError[] = [];
  private readonly path: (string | number)[] = [];
  private readonly variables: Variables;
  /** Whether the last {@link complete} reported (or met) an error. */
  private hasErrors = false;

  constructor(
    private readonly plan: ShapePlan,
    variables: Variables | undefined,
    private readonly schema: GraphQLSchema,
    private readonly types: TypeIndex,
  ) {
    this.variables = variables ? { ...plan.defaults, ...variables } : plan.defaults;
  }

  private skipped(conditions: readonly Condition[]): boolean {
    for (const condition of conditions) {
      let value = condition.literal;
      if (condition.variable !== undefined) {
        const given = this.variables[condition.variable];
        if (typeof given !== 'boolean') {
          throw new Error(`Unexpected value ${show(given)} for variable $${condition.variable}`);
        }
        value = given;
      }
      if (condition.skip ? value : !value) return true;
    }
    return false;
  }

  /** Fills `output` from `input`; false when a null must bubble up to the parent. */
  apply(
    steps: readonly Step[],
    input: Record<string, unknown>,
    output: Record<string, unknown>,
    parentType: string,
  ): boolean {
    for (const step of steps) {
      if (step.conditions && this.skipped(step.conditions)) continue;
      if (step.kind === 'fragment') {
        const typename = input.__typename;
        if (typename !== undefined && typename !== null && typeof typename !== 'string') {
          throw new Error(`Got unexpected value for __typename: ${show(typename)}`);
        }
        const condition = step.typeCondition;
        const applies =
          condition === undefined ||
          (typename
            ? this.types.has(typename) && this.types.isSubtype(condition, typename)
            : this.types.isSubtype(condition, parentType));
        if (applies && !this.apply(step.selections, input, output, condition ?? parentType)) {
          return false;
        }
        continue;
      }
      const name = step.responseName;
      const existing = Object.hasOwn(output, name) ? output[name] : undefined;
      if (step.introspection) {
        if (existing === undefined)
          if (step.proto) setOwn(output, name, this.introspect(step.introspection));
          else output[name] = this.introspect(step.introspection);
        continue;
      }
      let value = Object.hasOwn(input, name) ? input[name] : undefined;
      if (value === undefined) value = null;
      if (step.typename) {
        if (existing === undefined) {
          if (value === null && name !== '__typename') value = input.__typename ?? null;
          const type = typeof value === 'string' && this.types.has(value) ? value : parentType;
          if (!this.types.isObject(type)) return false;
          if (step.proto) setOwn(output, name, type);
          else output[name] = type;
        }
        continue;
      }
      this.path.push(name);
      const completed = this.complete(existing, step.type!, value, step.selections, parentType);
      this.path.pop();
      if (completed === INVALID) {
        if (step.proto) setOwn(output, name, null);
        else output[name] = null;
        return false;
      }
      if (step.proto) setOwn(output, name, completed);
      else output[name] = completed;
    }
    return true;
  }

  /** The gateway's `updateOutputValue`; {@link INVALID} is its `isInvalid`, {@link hasErrors} its `hasErrors`. */
  private complete(
    existing: unknown,
    type: TypeStep,
    value: unknown,
    selections: readonly Step[] | undefined,
    parentType: string,
  ): unknown {
    if (existing === null || (existing !== undefined && !selections)) {
      this.hasErrors = false;
      return existing;
    }
    switch (type.kind) {
      case 'nonNull': {
        const inner = this.complete(existing, type.of, value, selections, parentType);
        if (inner === null) {
          if (!this.hasErrors) {
            this.errors.push(
              ERRORS.INVALID_GRAPHQL.err(
                `Cannot return null for non-nullable ${this.describe(type.ofName, parentType)}.`,
                { path: this.path.slice() },
              ),
            );
          }
          this.hasErrors = true;
          return INVALID;
        }
        this.hasErrors = false;
        return inner;
      }
      case 'list': {
        if (value === null) {
          this.hasErrors = false;
          return null;
        }
        if (!Array.isArray(value)) {
          throw new Error(
            `Invalid non-list value ${show(value)} returned by subgraph for list type ${type.name}`,
          );
        }
        if (
          existing !== undefined &&
          (!Array.isArray(existing) || existing.length !== value.length)
        ) {
          throw new Error(`Invalid list value returned by subgraph for list type ${type.name}`);
        }
        const into = existing as unknown[] | undefined;
        const out = new Array<unknown>(value.length);
        let nullify = false;
        let errors = false;
        for (let i = 0; i < value.length; i++) {
          this.path.push(i);
          let element = this.complete(into?.[i], type.of, value[i], selections, parentType);
          this.path.pop();
          if (element === INVALID) {
            nullify = true;
            element = null;
          }
          errors ||= this.hasErrors;
          out[i] = element;
        }
        this.hasErrors = errors;
        return nullify ? null : out;
      }
      case 'composite': {
        if (value === null) {
          this.hasErrors = false;
          return null;
        }
        if (typeof value !== 'object') {
          throw new Error(
            `Invalid non-object value ${show(value)} returned by subgraph for composite type ${type.name}`,
          );
        }
        const object = value as Record<string, unknown>;
        const typename = object.__typename;
        let objectType = type.name;
        if (typename !== undefined) {
          if (typeof typename !== 'string') {
            throw new Error(
              `Invalid non-string value ${show(typename)} for __typename at ${this.path.join(',')}`,
            );
          }
          if (typename && !this.types.isComposite(typename)) {
            this.errors.push(
              ERRORS.INVALID_GRAPHQL.err(
                `Invalid __typename found for object at ${this.describe(type.name, parentType)}.`,
                { path: this.path.slice() },
              ),
            );
            this.hasErrors = true;
            return null;
          }
          if (typename && !this.types.isObject(typename)) {
            // Still an interface: an @interfaceObject reference whose owner
            // did not know it (a deleted item), so no implementation type
            // came back. @apollo/gateway drops such an object silently or
            // shapes it typeless; it is a reference to nothing, as a null
            // entity is: null with NOT_FOUND at its path.
            this.fieldErrors.push(
              new GraphQLError(`The ${typename} at this path could not be found.`, {
                path: this.path.slice(),
                extensions: { code: ErrorCode.NOT_FOUND },
              }),
            );
            this.hasErrors = true;
            return null;
          }
          if (typename) objectType = typename;
        }
        const output = (existing ?? {}) as Record<string, unknown>;
        const ok = this.apply(selections!, object, output, objectType);
        this.hasErrors = !ok;
        return ok ? output : null;
      }
      case 'leaf': {
        if (value === null) {
          this.hasErrors = false;
          return null;
        }
        const valid = type.valid(value);
        if (!valid) {
          this.errors.push(
            ERRORS.INVALID_GRAPHQL.err(
              `Invalid value found for ${this.describe(type.name, parentType)}.`,
              { path: this.path.slice() },
            ),
          );
        }
        this.hasErrors = !valid;
        return valid ? value : null;
      }
    }
  }

  private describe(currentType: string, parentType: string): string {
    const element = this.path[this.path.length - 1];
    return typeof element === 'string'
      ? `field ${parentType}.${element}`
      : `array element of type ${currentType} at index ${String(element)}`;
  }

  private introspect(field: FieldNode): unknown {
    const document: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [
        {
          kind: Kind.OPERATION_DEFINITION,
          // As the gateway does: introspection fields live on the query type.
          operation: OperationTypeNode.QUERY,
          variableDefinitions: this.plan.operation.variableDefinitions,
          selectionSet: { kind: Kind.SELECTION_SET, selections: [field] },
        },
        ...this.plan.fragments,
      ],
    };
    const { data, errors } = executeSync({
      schema: this.schema,
      document,
      rootValue: {},
      variableValues: this.variables,
    });
    if (errors?.length || !data) {
      throw new Error(
        `Introspection query should not have failed but got ${JSON.stringify(errors)}`,
      );
    }
    const name = field.alias?.value ?? field.name.value;
    return Object.hasOwn(data, name) ? data[name] : undefined;
  }
}

/** A value in an error message, as the gateway's template strings show it (objects as JSON). */
function show(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
