import DataLoader from 'dataloader';
import type { BaseContext } from '@arcadia/subgraph-kit';
import { createAccounts, type Accounts, type AccountsDeps } from './accounts.js';
import type { Store, UserRow } from './store.js';
import { isUuid } from './validation.js';

/** Per-request batching: every `User` reference of one request costs one query. */
export interface AccountsLoaders {
  readonly userById: DataLoader<string, UserRow | null>;
}

/** What every accounts resolver gets; one per request, nothing shared between requests. */
export interface AccountsContext extends BaseContext {
  readonly accounts: Accounts;
  readonly loaders: AccountsLoaders;
}

/** Server-wide dependencies the per-request context is built from. */
export interface ContextDeps extends AccountsDeps {
  readonly store: Store;
}

/** Builds the context of one request: its own repository (forked EntityManager) and DataLoaders. */
export function createContext(base: BaseContext, deps: ContextDeps): AccountsContext {
  const repo = deps.store.session();
  const userById = new DataLoader<string, UserRow | null>(async (ids) => {
    // An id that is not a UUID names nobody; asking PostgreSQL would only fail the cast.
    const valid = ids.filter(isUuid);
    const found = await repo.usersByIds(valid);
    const byId = new Map(valid.map((id, i) => [id, found[i] ?? null]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return {
    ...base,
    loaders: { userById },
    accounts: createAccounts({ ...deps, repo, caller: base.caller, logger: base.logger }),
  };
}
