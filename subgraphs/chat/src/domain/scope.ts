/** What every area of one request's chat works with. */
import { createAccess, type Access } from './access.js';
import type { MessagingPolicy, RequestDeps } from './deps.js';
import { createTell, type Tell } from './tell.js';

/** One request's dependencies, with the checks and the publisher every area shares. */
export interface ChatScope extends RequestDeps {
  /** The messaging policy, everyone-may-message when none was given. */
  readonly canMessage: MessagingPolicy;
  readonly access: Access;
  readonly tell: Tell;
}

const everyone: MessagingPolicy = () => Promise.resolve(true);

/** The scope of one request. */
export function createScope(deps: RequestDeps): ChatScope {
  return {
    ...deps,
    canMessage: deps.canMessage ?? everyone,
    access: createAccess(deps),
    tell: createTell(deps),
  };
}
