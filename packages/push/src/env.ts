import { z } from 'zod';
import { COLLAPSE_WINDOW_MS_DEFAULT } from './notifier.js';

/** The key prefix of the device registry unless configured otherwise. */
export const PUSH_PREFIX_DEFAULT = 'arcadia:';

/**
 * Variables every user of push shares: services that register devices or
 * notify (the chat subgraph) and the push worker spread the ones they use
 * into their own shape, so that all agree on names and defaults.
 */
export const pushEnv = {
  /** Namespace of the device registry's Redis keys; producers and the worker must agree. */
  PUSH_PREFIX: z.string().min(1).default(PUSH_PREFIX_DEFAULT),
  /** How long notifications of one user and conversation are collected into one. */
  PUSH_COLLAPSE_WINDOW_MS: z.coerce.number().int().min(0).default(COLLAPSE_WINDOW_MS_DEFAULT),
};
