import { InitialSchema } from './initial-schema.js';
import { RefreshReuseInterval } from './refresh-reuse-interval.js';

/**
 * Every migration, in order, by the name recorded in the migrations table.
 * Listed explicitly rather than discovered by glob, so the list is the same
 * under tsx, in a bundle and in tests. Append; never rename or reorder.
 */
export const migrationsList = [
  { name: '20251123000000-initial-schema', class: InitialSchema },
  { name: '20261202000000-refresh-reuse-interval', class: RefreshReuseInterval },
];
