import type { Resolvers } from '../generated/resolvers-types.js';
import { DateTime } from './date-time.js';
import { Mutation } from './mutation.js';
import { Query } from './query.js';
import { User } from './user.js';

/** Every resolver of the accounts subgraph. */
export const resolvers: Resolvers = { DateTime, Query, Mutation, User };
