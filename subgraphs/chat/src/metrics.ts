import { Counter, createMetricsRegistry, type Registry } from '@arcadia/observability';

/** What chat counts, beside the HTTP and process metrics every subgraph has. */
export interface ChatMetrics {
  readonly registry: Registry;
  /** Messages written (a retried send that changed nothing is not counted). */
  readonly messagesSent: Counter;
  /** Events published, by type, one per recipient. */
  readonly eventsPublished: Counter<'type'>;
  /** Push notifications asked for (before collapsing). */
  readonly pushRequested: Counter;
}

/** The chat subgraph's registry, served on `/metrics`. */
export function createChatMetrics(): ChatMetrics {
  const registry = createMetricsRegistry('chat');
  return {
    registry,
    messagesSent: new Counter({
      name: 'chat_messages_sent_total',
      help: 'Messages written.',
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'chat_events_published_total',
      help: 'Chat events published, one per recipient.',
      labelNames: ['type'],
      registers: [registry],
    }),
    pushRequested: new Counter({
      name: 'chat_push_requested_total',
      help: 'Push notifications asked for, before collapsing.',
      registers: [registry],
    }),
  };
}
