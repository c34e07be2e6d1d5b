import type { Resolvers } from '../generated/resolvers-types.js';
import { DateTime } from '@arcadia/subgraph-kit';
import { Mutation } from './mutation.js';
import { Query } from './query.js';
import { User } from './user.js';

/** Every resolver of the accounts subgraph. */
export const resolvers: Resolvers = { DateTime, Query, Mutation, User };
