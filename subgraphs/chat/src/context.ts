import type { BaseContext } from '@arcadia/subgraph-kit';
import {
  createChat,
  createLoaders,
  type Chat,
  type ChatDeps,
  type ChatLoaders,
} from './domain/index.js';

/** What every chat resolver gets; one per request, nothing shared between requests. */
export interface ChatContext extends BaseContext {
  readonly chat: Chat;
  readonly loaders: ChatLoaders;
}

/** Builds the context of one request: its own repository (forked EntityManager) and DataLoaders. */
export function createContext(base: BaseContext, deps: ChatDeps): ChatContext {
  const repo = deps.store.conversations.session();
  const loaders = createLoaders(repo, deps.store, base.caller.userId);
  return {
    ...base,
    loaders,
    chat: createChat({ ...deps, repo, loaders, caller: base.caller, logger: base.logger }),
  };
}
