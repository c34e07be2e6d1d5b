/** SDK clients on a running system, and what the SDK tests observe of them. */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  createArcadiaClient,
  type ArcadiaClient,
  type ArcadiaClientOptions,
  type StoredSession,
} from '@arcadia/sdk';
import { TEST_PASSWORD } from '@arcadia/accounts/testing';
import type { ArcadiaSystem } from '../src/system.js';

/** One HTTP request a client sent, and what came back. */
export interface SentRequest {
  readonly body: {
    operationName?: string;
    query?: string;
    variables?: Record<string, unknown>;
    extensions?: { persistedQuery?: { version: number; sha256Hash: string } };
  };
  readonly headers: Record<string, string>;
  readonly status: number;
  /** The response's error codes. */
  readonly codes: string[];
}

/** A client of the system, with every HTTP request it sent. */
export interface ObservedClient {
  readonly client: ArcadiaClient;
  readonly sent: SentRequest[];
  /** Requests of one operation (by `operationName`). */
  readonly sentOf: (operationName: string) => SentRequest[];
}

/**
 * Makes clients of `system` (Node 20 has no global WebSocket: `ws` stands in)
 * whose requests are recorded, and closes them all in `closeAll`.
 */
export function clientFactory(system: () => ArcadiaSystem) {
  const clients = new Set<ArcadiaClient>();
  return {
    create(options: Partial<ArcadiaClientOptions> = {}): ObservedClient {
      const sent: SentRequest[] = [];
      const baseFetch = options.fetch ?? fetch;
      const recordingFetch: typeof fetch = async (input, init) => {
        const response = await baseFetch(input, init);
        if (typeof init?.body === 'string') {
          let codes: string[] = [];
          try {
            const json = (await response.clone().json()) as {
              errors?: { extensions?: { code?: string } }[];
            };
            codes = (json.errors ?? []).map((e) => e.extensions?.code ?? '?');
          } catch {
            // Not JSON (e.g. a proxy's error page): no codes.
          }
          sent.push({
            body: JSON.parse(init.body) as SentRequest['body'],
            headers: Object.fromEntries(new Headers(init.headers).entries()),
            status: response.status,
            codes,
          });
        }
        return response;
      };
      const client = createArcadiaClient({
        url: system().url,
        webSocketImpl: WebSocket,
        ...options,
        fetch: recordingFetch,
      });
      clients.add(client);
      return {
        client,
        sent,
        sentOf: (name) => sent.filter((r) => r.body.operationName === name),
      };
    },
    async closeAll() {
      await Promise.allSettled([...clients].map((c) => c.close()));
      clients.clear();
    },
  };
}

/** Sign-up input of a new user (handle `<prefix>_<random>`). */
export function newUserInput(prefix = 'sdk') {
  const tag = randomBytes(5).toString('hex');
  const handle = `${prefix}_${tag}`.slice(0, 24);
  return {
    handle,
    email: `${handle}@example.com`,
    password: TEST_PASSWORD,
    displayName: `SDK ${tag}`,
  };
}

/** Signs a new user up through `client` (its session becomes theirs). */
export async function signUpWith(client: ArcadiaClient, prefix?: string): Promise<StoredSession> {
  return client.session.signUp(newUserInput(prefix));
}

/** Collects what an SDK subscription yields until stopped, and the error that ended it. */
export function collect<T>(iterator: AsyncIterableIterator<T>) {
  const events: T[] = [];
  let error: unknown;
  let done = false;
  const running = (async () => {
    try {
      for await (const event of iterator) events.push(event);
    } catch (caught) {
      error = caught;
    } finally {
      done = true;
    }
  })();
  return {
    events,
    get error() {
      return error;
    },
    get done() {
      return done;
    },
    async stop() {
      await iterator.return?.();
      await running;
    },
  };
}
