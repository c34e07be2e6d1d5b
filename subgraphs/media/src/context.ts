import DataLoader from 'dataloader';
import type { BaseContext } from '@arcadia/subgraph-kit';
import { createMedia, type Media, type MediaDeps } from './media.js';
import type { ImageRow, Store } from './store.js';
import { isUuid } from './validation.js';

/** Per-request batching: every `Image` or `User.avatar` reference of one request costs one query. */
export interface MediaLoaders {
  readonly imageById: DataLoader<string, ImageRow | null>;
  readonly avatarByUserId: DataLoader<string, ImageRow | null>;
}

/** What every media resolver gets; one per request, nothing shared between requests. */
export interface MediaContext extends BaseContext {
  readonly media: Media;
  readonly loaders: MediaLoaders;
}

/** Server-wide dependencies the per-request context is built from. */
export interface ContextDeps extends MediaDeps {
  readonly store: Store;
}

/** A loader that answers null for ids that are not UUIDs without asking PostgreSQL. */
function uuidLoader(
  load: (ids: readonly string[]) => Promise<(ImageRow | null)[]>,
): DataLoader<string, ImageRow | null> {
  return new DataLoader<string, ImageRow | null>(async (ids) => {
    const valid = ids.filter(isUuid);
    const found = await load(valid);
    const byId = new Map(valid.map((id, i) => [id, found[i] ?? null]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Builds the context of one request: its own repository (forked EntityManager) and DataLoaders. */
export function createContext(base: BaseContext, deps: ContextDeps): MediaContext {
  const repo = deps.store.session();
  return {
    ...base,
    loaders: {
      imageById: uuidLoader((ids) => repo.imagesByIds(ids)),
      avatarByUserId: uuidLoader((ids) => repo.avatarsByUserIds(ids)),
    },
    media: createMedia({ ...deps, repo, caller: base.caller, logger: base.logger }),
  };
}
