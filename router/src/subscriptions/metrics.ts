import { Counter, Gauge, type Registry } from '@arcadia/observability';

/** Prometheus metrics of the router's subscriptions. */
export interface SubscriptionMetrics {
  readonly clientSockets: Gauge<'transport'>;
  readonly clientSubscriptions: Gauge<'transport'>;
  readonly upstreams: Gauge<'service'>;
  readonly upstreamSockets: Gauge<'service'>;
  readonly eventsIn: Counter<'service'>;
  readonly eventsOut: Counter;
  readonly slowClientsDropped: Counter<'transport'>;
  readonly upstreamReconnects: Counter<'service'>;
  readonly upstreamRenewals: Counter<'service'>;
}

/** Registers the subscription metrics on the router's registry. */
export function createSubscriptionMetrics(registry: Registry): SubscriptionMetrics {
  const registers = [registry];
  return {
    clientSockets: new Gauge({
      name: 'subscription_client_connections',
      help: 'Open client connections carrying subscriptions (graphql-ws sockets, SSE streams).',
      labelNames: ['transport'],
      registers,
    }),
    clientSubscriptions: new Gauge({
      name: 'subscription_client_operations',
      help: 'Active client subscription operations.',
      labelNames: ['transport'],
      registers,
    }),
    upstreams: new Gauge({
      name: 'subscription_upstreams',
      help: 'Open subscriptions from the router to subgraphs (shared by identical client operations).',
      labelNames: ['service'],
      registers,
    }),
    upstreamSockets: new Gauge({
      name: 'subscription_upstream_sockets',
      help: 'graphql-ws clients from the router to subgraphs (one per subgraph, two while one is renewed).',
      labelNames: ['service'],
      registers,
    }),
    eventsIn: new Counter({
      name: 'subscription_events_in_total',
      help: 'Events received from subgraphs.',
      labelNames: ['service'],
      registers,
    }),
    eventsOut: new Counter({
      name: 'subscription_events_out_total',
      help: 'Events handed to client connections.',
      registers,
    }),
    slowClientsDropped: new Counter({
      name: 'subscription_slow_clients_dropped_total',
      help: 'Client connections closed because they did not read their events fast enough.',
      labelNames: ['transport'],
      registers,
    }),
    upstreamReconnects: new Counter({
      name: 'subscription_upstream_reconnects_total',
      help: 'Reconnections of upstream subscription sockets after a drop.',
      labelNames: ['service'],
      registers,
    }),
    upstreamRenewals: new Counter({
      name: 'subscription_upstream_renewals_total',
      help: 'Upstream subscriptions moved to a freshly signed socket before their signature expired.',
      labelNames: ['service'],
      registers,
    }),
  };
}
