/**
 * The media domain as other workspaces may use it (`@arcadia/media/domain`):
 * the media worker opens the same store, storage and events as the subgraph
 * through this one entry point, never through paths into `src/`.
 */
export {
  openStore,
  type ImageRow,
  type Store,
  type VariantName,
  type VariantRow,
} from './store.js';
export {
  createStorage,
  variantKey,
  VARIANT_CACHE_CONTROL,
  type MediaStorage,
  type StorageConfig,
} from './storage.js';
export {
  createMediaPubSub,
  imageTrigger,
  publishImageUpdated,
  type MediaPubSub,
} from './events.js';
export { mediaSharedEnv, type MediaSharedConfig } from './env.js';
