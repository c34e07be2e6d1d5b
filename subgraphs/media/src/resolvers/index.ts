import type { Resolvers } from '../generated/resolvers-types.js';
import { DateTime } from '@arcadia/subgraph-kit';
import { Image } from './image.js';
import { ImageVariant } from './image-variant.js';
import { JSONScalar } from './json.js';
import { Mutation } from './mutation.js';
import { Query } from './query.js';
import { Subscription } from './subscription.js';
import { User } from './user.js';

/** Every resolver of the media subgraph. */
export const resolvers: Resolvers = {
  DateTime,
  JSON: JSONScalar,
  Query,
  Mutation,
  Subscription,
  Image,
  ImageVariant,
  User,
};
