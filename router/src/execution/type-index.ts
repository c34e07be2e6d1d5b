import {
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  isUnionType,
  type GraphQLSchema,
} from 'graphql';

/**
 * The type questions plan execution asks on every object, answered from
 * sets built once per schema instead of by walking the schema each time
 * (@apollo/gateway asks federation-internals, through re-export getters, for
 * every field of every object it shapes).
 */
export interface TypeIndex {
  /** Whether `name` is a type of the schema. */
  has(name: string): boolean;
  /** Whether `name` is an object, interface or union type. */
  isComposite(name: string): boolean;
  /** Whether `name` is an object type. */
  isObject(name: string): boolean;
  /**
   * Federation's `isSubtype(condition, type)`: the same type, an object or
   * interface implementing the interface `condition`, or an object member
   * of the union `condition`.
   */
  isSubtype(condition: string, type: string): boolean;
  /**
   * @apollo/gateway's `isObjectOfType` (dataRewrites.js): the object's
   * `__typename` is `condition`, or `condition` is abstract and has it as
   * an object or interface subtype. Without a `__typename` the answer is
   * `withoutTypename`.
   */
  isObjectOfType(typename: unknown, condition: string, withoutTypename?: boolean): boolean;
}

/** Builds the {@link TypeIndex} of `schema`. */
export function indexTypes(schema: GraphQLSchema): TypeIndex {
  const types = schema.getTypeMap();
  const composite = new Set<string>();
  const objects = new Set<string>();
  // condition → the types it is a supertype of (itself included).
  const subtypes = new Map<string, Set<string>>();
  // condition → what `schema.isSubType` says for object and interface types.
  const abstractMembers = new Map<string, Set<string>>();
  for (const type of Object.values(types)) {
    if (isCompositeType(type)) composite.add(type.name);
    if (isObjectType(type)) objects.add(type.name);
    if (isCompositeType(type)) subtypes.set(type.name, new Set([type.name]));
  }
  for (const type of Object.values(types)) {
    if (isUnionType(type)) {
      for (const member of type.getTypes()) subtypes.get(type.name)!.add(member.name);
    }
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const implemented of type.getInterfaces()) {
        subtypes.get(implemented.name)!.add(type.name);
      }
    }
  }
  for (const type of Object.values(types)) {
    if (!isAbstractType(type)) continue;
    const members = new Set<string>();
    for (const candidate of Object.values(types)) {
      if (
        (isObjectType(candidate) || isInterfaceType(candidate)) &&
        schema.isSubType(type, candidate)
      ) {
        members.add(candidate.name);
      }
    }
    abstractMembers.set(type.name, members);
  }
  return {
    has: (name) => Object.hasOwn(types, name),
    isComposite: (name) => composite.has(name),
    isObject: (name) => objects.has(name),
    isSubtype: (condition, type) => subtypes.get(condition)?.has(type) ?? condition === type,
    isObjectOfType(typename, condition, withoutTypename = false) {
      if (!typename) return withoutTypename;
      if (typename === condition) return true;
      if (typeof typename !== 'string' || !Object.hasOwn(types, typename)) return false;
      return abstractMembers.get(condition)?.has(typename) ?? false;
    },
  };
}
