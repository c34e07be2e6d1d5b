/**
 * The chat events as resolvers see them (the codegen mappers of the event
 * types): kept apart from the resolvers so the generated types import no
 * resolver module.
 */
import type { MessageRow } from '../store/index.js';
import type { UserModel } from './user.js';

/** `MessageAdded` / `MessageUpdated` as resolved. */
export interface MessageEventModel {
  readonly kind: 'MessageAdded' | 'MessageUpdated';
  readonly message: MessageRow;
}

/** `MessageDelivered` as resolved. */
export interface MessageDeliveredModel {
  readonly kind: 'MessageDelivered';
  readonly message: MessageRow;
  readonly user: UserModel;
}

/** `MessageRead` as resolved. */
export interface MessageReadModel {
  readonly kind: 'MessageRead';
  readonly conversationId: string;
  readonly user: UserModel;
  readonly upTo: MessageRow;
}

/** `MemberLeft` as resolved. */
export interface MemberLeftModel {
  readonly kind: 'MemberLeft';
  readonly conversationId: string;
  readonly user: UserModel;
}

/** `TypingStarted` as resolved. */
export interface TypingStartedModel {
  readonly kind: 'TypingStarted';
  readonly conversationId: string;
  readonly user: UserModel;
}
