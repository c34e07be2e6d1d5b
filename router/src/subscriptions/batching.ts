import type {
  GraphQLDataSource,
  GraphQLDataSourceProcessOptions,
  RemoteGraphQLDataSource,
} from '@apollo/gateway';
import { CALLER_HEADER } from '@arcadia/auth';
import type { RouterContext } from '../request-context.js';

/** The subgraph's fetcher: the router's HTTP client, timeouts, metrics and failure mapping. */
export type SubgraphFetcher = RemoteGraphQLDataSource['fetcher'];

type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;

interface Pending {
  readonly request: { query?: string; operationName?: string; variables?: unknown };
  readonly context: RouterContext;
  resolve(response: Response): void;
  reject(error: unknown): void;
}

// One event reaches every pipeline in the same turn of the event loop, so
// their fetches are all queued before the batch goes; past this many it
// goes at once.
const MAX_BATCH = 500;

/**
 * A subgraph's data source for the entity fetches of subscription events:
 * the fetches queued in one turn of the event loop go as one POST of an
 * array, each operation signed for its own caller (in its `extensions`), and
 * each answer goes back to its fetch. One event delivered to many callers
 * (every member of a conversation, each with a subscription of their own)
 * costs one request to each subgraph instead of one per caller; each caller
 * still gets exactly what the subgraph answers them.
 */
export class BatchingDataSource implements GraphQLDataSource<RouterContext> {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly options: { serviceName: string; url: string; fetcher: SubgraphFetcher },
  ) {}

  process(options: GraphQLDataSourceProcessOptions<RouterContext>): Promise<Response> {
    const { query, operationName, variables } = options.request;
    return new Promise<Response>((resolve, reject) => {
      this.queue.push({
        request: {
          query,
          ...(operationName ? { operationName } : {}),
          ...(variables ? { variables } : {}),
        },
        // Subscription events' fetches always run in an operation's context.
        context: options.context as RouterContext,
        resolve,
        reject,
      });
      if (this.queue.length >= MAX_BATCH) {
        void this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const { serviceName, url, fetcher } = this.options;
    try {
      const body = await Promise.all(
        batch.map(async ({ request, context }) => ({
          ...request,
          extensions: {
            [CALLER_HEADER]: await context.signedCaller({
              audience: serviceName,
              method: 'POST',
              request,
            }),
          },
        })),
      );
      // The fetcher turns an unreachable or failing subgraph into
      // SERVICE_UNAVAILABLE naming it, and logs it.
      const response = await fetcher(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answers: unknown = await response.json();
      if (!Array.isArray(answers) || answers.length !== batch.length) {
        throw new Error(`${serviceName} answered a batch of ${batch.length} with something else`);
      }
      batch.forEach((pending, i) => pending.resolve(answers[i] as Response));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }
}
