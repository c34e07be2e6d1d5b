/** Telling members what happened: chat events on each recipient's channel. */
import { publishTo, type ChatEventPayload } from '../events.js';
import type { RequestDeps } from './deps.js';

/** Publishes an event to these users (each once); never fails. */
export type Tell = (userIds: Iterable<string>, event: ChatEventPayload) => Promise<void>;

/**
 * Publishes, never failing the request: the write is what counts, and
 * clients resync by query. A failure is logged.
 */
export function createTell(deps: Pick<RequestDeps, 'pubsub' | 'metrics' | 'logger'>): Tell {
  return async (userIds, event) => {
    const recipients = [...new Set(userIds)];
    deps.metrics.eventsPublished.inc({ type: event.type }, recipients.length);
    await publishTo(deps.pubsub, recipients, event).catch((error: unknown) => {
      deps.logger.warn({ err: error, event: event.type }, 'chat event could not be published');
    });
  };
}
