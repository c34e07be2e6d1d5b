/**
 * `@requires` of fields with arguments, which the federation query planner
 * gets wrong (a known @apollo/gateway defect): it selects a required field
 * by response name only, so `@requires(fields: "price(currency: USD)")` and
 * `@requires(fields: "price(currency: EUR)")` on two fields of one entity
 * are merged into one `price` (the last one planned wins), and a required
 * `price(currency: EUR)` is taken to be satisfied by the client's own
 * `price(currency: USD)`. The plan cannot even say which arguments it
 * meant: its `requires` selections carry no arguments.
 *
 * The router corrects it when it runs the plan. For a fetch whose fields
 * require fields with arguments, {@link analyseRequiresArguments} splits
 * those fields off by requirement: each group first asks the subgraph that
 * owns the required fields for exactly them (with their arguments, by that
 * subgraph's key), then fetches its fields with those values in the
 * representation, under the names the requiring subgraph expects. The
 * rest of the fetch runs as planned.
 */
import type { FetchNode } from '@apollo/query-planner';
import {
  isObjectType,
  Kind,
  parse,
  print,
  visit,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import type { SupergraphFacts } from './supergraph-facts.js';

/** One requirement with arguments, and the fields of the fetch that need it. */
export interface RequirementGroup {
  /** The entity type. */
  readonly type: string;
  /** The subgraph owning the required fields, asked for them with their arguments. */
  readonly owner: string;
  /** `_entities` query to the owner selecting the requirement. */
  readonly ownerOperation: string;
  /** `_entities` query to the fetch's subgraph selecting the group's fields. */
  readonly operation: string;
  /** Variables the group's fields use. */
  readonly variableUsages: readonly string[];
}

/** How one fetch runs instead of as planned. */
export interface RequiresRepair {
  /** The fetch without the split-off fields; undefined when nothing is left of it. */
  readonly rest: FetchNode | undefined;
  readonly groups: readonly RequirementGroup[];
}

const ENTITIES_VARIABLES = '$representations:[_Any!]!';

/** The repair of `fetch`, or undefined when none of its fields requires fields with arguments. */
export function analyseRequiresArguments(
  fetch: FetchNode,
  planning: SupergraphFacts,
): RequiresRepair | undefined {
  if (!fetch.requires) return undefined;
  const document = parse(fetch.operation);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const entities = operation?.selectionSet.selections.find(
    (s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === '_entities',
  );
  if (!operation || !entities?.selectionSet) return undefined;
  const groups = new Map<string, { type: string; requires: string; fields: FieldNode[] }>();
  const split = new Set<FieldNode>();
  for (const fragment of entities.selectionSet.selections) {
    if (fragment.kind !== Kind.INLINE_FRAGMENT || !fragment.typeCondition) continue;
    const type = fragment.typeCondition.name.value;
    for (const field of fragment.selectionSet.selections) {
      if (field.kind !== Kind.FIELD) continue;
      const requires = requiresOf(planning, type, field.name.value, fetch.serviceName);
      if (!requires || !hasArguments(requires)) continue;
      const id = `${type}\0${print(requires)}`;
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { type, requires: print(requires), fields: [] }));
      group.fields.push(field);
      split.add(field);
    }
  }
  if (groups.size === 0) return undefined;
  const definitions = operation.variableDefinitions ?? [];
  const out: RequirementGroup[] = [];
  for (const group of groups.values()) {
    const requirement = parse(`{${group.requires.slice(1, -1)}}`).definitions[0] as {
      selectionSet: SelectionSetNode;
    };
    const owner = ownerOf(planning, group.type, requirement.selectionSet, fetch.serviceName);
    if (!owner) return undefined; // Nothing better to do than the plan.
    const used = variablesIn(group.fields);
    const variables = definitions
      .filter((d) => used.has(d.variable.name.value))
      .map((d) => print(d))
      .join(',');
    out.push({
      type: group.type,
      owner,
      ownerOperation: `query(${ENTITIES_VARIABLES}){_entities(representations:$representations){...on ${group.type}${print(requirement.selectionSet)}}}`,
      operation: `query(${ENTITIES_VARIABLES}${variables ? `,${variables}` : ''}){_entities(representations:$representations){...on ${group.type}{${group.fields.map((f) => print(f)).join(' ')}}}}`,
      variableUsages: [...used],
    });
  }
  return { rest: withoutFields(fetch, document, split), groups: out };
}

/** `fetch` with `split` taken out of its `_entities` selection; undefined when no field is left. */
function withoutFields(
  fetch: FetchNode,
  document: DocumentNode,
  split: Set<FieldNode>,
): FetchNode | undefined {
  let fieldsLeft = 0;
  const definitions = document.definitions.map((definition): DefinitionNode => {
    if (definition.kind !== Kind.OPERATION_DEFINITION) return definition;
    const selections = definition.selectionSet.selections.map((root): SelectionNode => {
      if (root.kind !== Kind.FIELD || root.name.value !== '_entities' || !root.selectionSet)
        return root;
      const fragments = root.selectionSet.selections.flatMap((fragment): SelectionNode[] => {
        if (fragment.kind !== Kind.INLINE_FRAGMENT) return [fragment];
        const kept = fragment.selectionSet.selections.filter(
          (s) => !(s.kind === Kind.FIELD && split.has(s)),
        );
        fieldsLeft += kept.filter(
          (s) => s.kind !== Kind.FIELD || s.name.value !== '__typename',
        ).length;
        return kept.length
          ? [{ ...fragment, selectionSet: { ...fragment.selectionSet, selections: kept } }]
          : [];
      });
      return { ...root, selectionSet: { ...root.selectionSet, selections: fragments } };
    });
    return { ...definition, selectionSet: { ...definition.selectionSet, selections } };
  });
  if (fieldsLeft === 0) return undefined;
  const rest = { ...fetch, operation: print({ ...document, definitions }) };
  delete rest.operationDocumentNode;
  return rest;
}

function variablesIn(fields: readonly SelectionNode[]): Set<string> {
  const used = new Set<string>();
  for (const field of fields) {
    visit(field, {
      Variable(node) {
        used.add(node.name.value);
      },
    });
  }
  return used;
}

function joinDirectives(
  planning: SupergraphFacts,
  type: string,
  field: string,
): readonly ConstDirectiveNode[] {
  const definition = planning.supergraphSchema.getType(type);
  if (!isObjectType(definition)) return [];
  return (definition.getFields()[field]?.astNode?.directives ?? []).filter(
    (d) => d.name.value === 'join__field',
  );
}

function argument(directive: ConstDirectiveNode, name: string) {
  return directive.arguments?.find((a) => a.name.value === name)?.value;
}

/** The `requires` field set `subgraph` declares on `type.field`, parsed. */
function requiresOf(
  planning: SupergraphFacts,
  type: string,
  field: string,
  subgraph: string,
): SelectionSetNode | undefined {
  for (const directive of joinDirectives(planning, type, field)) {
    const graph = argument(directive, 'graph');
    const requires = argument(directive, 'requires');
    if (graph?.kind !== Kind.ENUM || planning.subgraphOf(graph.value) !== subgraph) continue;
    if (requires?.kind !== Kind.STRING) return undefined;
    return (parse(`{${requires.value}}`).definitions[0] as { selectionSet: SelectionSetNode })
      .selectionSet;
  }
  return undefined;
}

function hasArguments(set: SelectionSetNode): boolean {
  let found = false;
  visit(set, {
    Argument() {
      found = true;
    },
  });
  return found;
}

/**
 * A subgraph other than `subgraph` that resolves every top-level field of
 * `requirement` on `type` (not as `@external`) and has a resolvable key for it.
 */
function ownerOf(
  planning: SupergraphFacts,
  type: string,
  requirement: SelectionSetNode,
  subgraph: string,
): string | undefined {
  let candidates: Set<string> | undefined;
  for (const selection of requirement.selections) {
    if (selection.kind !== Kind.FIELD) return undefined;
    const owners = new Set<string>();
    for (const directive of joinDirectives(planning, type, selection.name.value)) {
      const graph = argument(directive, 'graph');
      const external = argument(directive, 'external');
      if (graph?.kind !== Kind.ENUM || (external?.kind === Kind.BOOLEAN && external.value))
        continue;
      const name = planning.subgraphOf(graph.value);
      if (name && name !== subgraph) owners.add(name);
    }
    candidates = candidates ? new Set([...candidates].filter((c) => owners.has(c))) : owners;
  }
  for (const candidate of candidates ?? []) {
    if (planning.entityKeys(candidate, type)?.resolvable.length) return candidate;
  }
  return undefined;
}
