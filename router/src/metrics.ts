import { Counter, createMetricsRegistry, Histogram, type Registry } from '@arcadia/observability';

/** The router's Prometheus metrics, on a registry of their own (one per router instance). */
export interface RouterMetrics {
  readonly registry: Registry;
  /** `outcome`: `success`, `partial` (data and errors) or `error`. */
  readonly requests: Counter<'operation' | 'outcome'>;
  readonly requestDuration: Histogram<'operation'>;
  readonly subgraphFetchDuration: Histogram<'service'>;
  readonly subgraphFetchErrors: Counter<'service'>;
  /** Operations answered by an identical one already executing (DEDUPLICATE_INFLIGHT). */
  readonly deduplicatedOperations: Counter;
  /**
   * Of those, the HTTP requests sent the response (status, body bytes) of
   * an identical request in flight, without running Apollo's pipeline.
   */
  readonly deduplicatedResponses: Counter;
  /** Subgraph fetches that shared an identical one in flight (DEDUPLICATE_INFLIGHT). */
  readonly deduplicatedSubgraphFetches: Counter<'service'>;
  /** Fetches per HTTP request to a subgraph (SUBGRAPH_BATCH_MAX): 1 when sent alone. */
  readonly subgraphBatchSize: Histogram<'service'>;
  /** The `operation` label for an operation name, bounded in cardinality. */
  operationLabel(name: string | null | undefined): string;
}

// Operation names come from clients; past this many distinct ones, new names
// share one label so a client cannot grow the registry without bound.
const MAX_OPERATION_LABELS = 500;

/** Creates the router's metrics on a fresh registry. */
export function createRouterMetrics(): RouterMetrics {
  const registry = createMetricsRegistry('router');
  const seen = new Set<string>();
  return {
    registry,
    requests: new Counter({
      name: 'graphql_requests_total',
      help: 'GraphQL requests by operation name and outcome.',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'graphql_request_duration_seconds',
      help: 'Time from receiving a GraphQL request to the end of its response.',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    subgraphFetchDuration: new Histogram({
      name: 'subgraph_fetch_duration_seconds',
      help: 'Duration of one fetch from the router to a subgraph, body included.',
      labelNames: ['service'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    subgraphFetchErrors: new Counter({
      name: 'subgraph_fetch_errors_total',
      help: 'Subgraph fetches that failed: unreachable, timed out or answered 5xx.',
      labelNames: ['service'],
      registers: [registry],
    }),
    deduplicatedOperations: new Counter({
      name: 'router_deduplicated_operations_total',
      help: 'Queries that shared the execution of an identical query in flight instead of executing.',
      registers: [registry],
    }),
    deduplicatedResponses: new Counter({
      name: 'router_deduplicated_responses_total',
      help: 'HTTP query requests answered with the response of an identical request in flight.',
      registers: [registry],
    }),
    deduplicatedSubgraphFetches: new Counter({
      name: 'router_deduplicated_subgraph_fetches_total',
      help: 'Subgraph fetches that shared an identical fetch in flight instead of sending their own.',
      labelNames: ['service'],
      registers: [registry],
    }),
    subgraphBatchSize: new Histogram({
      name: 'router_subgraph_batch_size',
      help: 'Fetches sent in one HTTP request to a subgraph (cross-request batching; 1 = sent alone).',
      labelNames: ['service'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    operationLabel(name) {
      if (!name) return 'anonymous';
      if (seen.has(name)) return name;
      if (seen.size >= MAX_OPERATION_LABELS) return 'other';
      seen.add(name);
      return name;
    },
  };
}
