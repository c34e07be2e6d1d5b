/**
 * Chat's behaviour, over the store: who may do what, and what each action
 * writes and tells whom. Resolvers call this; it never sees GraphQL. One
 * module per area (conversations, messages, receipts and unread counts,
 * typing, push), each given the request's scope: its dependencies, loaders,
 * membership checks (access.ts) and event publisher (tell.ts).
 */
import { userTrigger } from '../events.js';
import { createConversations } from './conversations.js';
import type { RequestDeps } from './deps.js';
import { createMessages } from './messages.js';
import { createPush } from './push.js';
import { createReceipts } from './receipts.js';
import { createScope } from './scope.js';
import { createTyping } from './typing.js';

export type { ConversationPage } from './conversations.js';
export type { ChatDeps, MessagingPolicy, RequestDeps } from './deps.js';
export { createLoaders, type ChatLoaders } from './loaders.js';
export type { MessagePage } from './messages.js';
export type { UserModel } from './user.js';

/** The chat of one request. */
export type Chat = ReturnType<typeof createChat>;

/** Builds the chat domain for one request. */
export function createChat(deps: RequestDeps) {
  const scope = createScope(deps);
  const { notifyOffline, ...push } = createPush(scope);
  return {
    ...createConversations(scope),
    ...createMessages(scope, notifyOffline),
    ...createReceipts(scope),
    ...createTyping(scope),
    ...push,

    /** The caller's live events. */
    watch() {
      return scope.pubsub.subscribe(userTrigger(scope.access.requireUser()));
    },
  };
}
