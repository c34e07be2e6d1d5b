import { DateTime } from '@arcadia/subgraph-kit';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Conversation } from './conversation.js';
import {
  ChatEvent,
  MemberLeft,
  MessageDelivered,
  MessageRead,
  Subscription,
  TypingStarted,
} from './events.js';
import { Message } from './message.js';
import { Mutation } from './mutation.js';
import { Query } from './query.js';

/** Every resolver of the chat subgraph. */
export const resolvers: Resolvers = {
  DateTime,
  Query,
  Mutation,
  Subscription,
  Conversation,
  Message,
  ChatEvent,
  MessageDelivered,
  MessageRead,
  TypingStarted,
  MemberLeft,
  User: { __resolveReference: (reference) => ({ id: reference.id }) },
};
