import { InitialSchema } from './initial-schema.js';

/**
 * Every migration, in order, by the name recorded in the migrations table.
 * Listed explicitly rather than discovered by glob, so the list is the same
 * under tsx, in a bundle and in tests. Append; never rename or reorder.
 */
export const migrationsList = [{ name: '20261123000000-initial-schema', class: InitialSchema }];
