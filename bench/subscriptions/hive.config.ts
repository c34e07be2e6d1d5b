/**
 * Hive Gateway configuration for the subscriptions benchmark, loaded by
 * `hive-gateway supergraph <file> -c bench/subscriptions/hive.config.ts`
 * (under `node --import tsx`, so it can use the workspace's TS packages).
 *
 * Arcadia subgraphs refuse any request without the router's signed caller
 * (`x-arcadia-caller`, an HS256 JWT bound to its audience, the subgraph's
 * name in the supergraph):
 *
 * - on HTTP, in a header signed for that one request (method and GraphQL
 *   body), valid for 60 s. Static headers cannot carry that, so the plugin
 *   below signs every subgraph fetch in `onFetch`, from the body Hive is about
 *   to send, for the subgraph the fetch goes to;
 * - on graphql-ws, in the `connectionParams` of the socket Hive opens to the
 *   `ticks` subgraph for subscriptions: a connection signature (audience
 *   `ticks`), checked once when the socket connects and valid for 300 s,
 *   after which the subgraph closes the socket (4401) and every subscription
 *   on it ends. Transport options are interpolated synchronously, so it is
 *   signed ahead of time and renewed every 60 s: a socket always starts with
 *   at least 240 s left (Hive opens a new socket for the subscriptions that
 *   start after a renewal, since the params differ). One gateway's bench run
 *   is shorter than that, so no socket outlives its signature; a longer run
 *   would see Hive's first sockets closed after 300 s.
 *
 * Hive signs the anonymous caller for every client: it does not verify the
 * clients' JWTs (see bench/README.md).
 *
 * The router benchmark (bench/router) uses this configuration too, for its
 * HTTP queries: there `HIVE_INBOUND_DEDUP=yes` turns on Hive's in-flight
 * deduplication of identical inbound requests, one of the two settings the
 * public federation gateway benchmark runs Hive with (the other, `--jit`,
 * is a command-line flag).
 */
import { join } from 'node:path';
import {
  ANONYMOUS,
  CALLER_HEADER,
  createCallerSigner,
  loadKeyMaterial,
  type SignedRequest,
} from '@arcadia/auth';
import { defineConfig, type GatewayPlugin } from '@graphql-hive/gateway';

const home = process.env.ARCADIA_HOME;
if (!home) throw new Error('ARCADIA_HOME is required');
const keys = await loadKeyMaterial({ localFile: join(home, 'keys.json') });
const signCaller = createCallerSigner(keys.internalSecrets);

/** The only subgraph Hive subscribes to (over graphql-ws). */
const SUBSCRIPTIONS_SUBGRAPH = 'ticks';
const CONNECTION_RENEWAL_MS = 60_000;

const signConnection = () =>
  signCaller(ANONYMOUS, { audience: SUBSCRIPTIONS_SUBGRAPH, connection: true });
let connectionCaller = await signConnection();
// Each subscription reads the params from its own context when it starts:
// the context holds this object, whose getter returns the newest signature.
const connectionRef = {
  get token() {
    return connectionCaller;
  },
};
setInterval(() => {
  signConnection().then(
    (signed) => (connectionCaller = signed),
    (error: unknown) => console.error('could not sign the connection caller', error),
  );
}, CONNECTION_RENEWAL_MS).unref();

/** Subgraph name by the URL Hive fetches it at, learnt from its transport entries. */
const subgraphByUrl = new Map<string, string>();
const withoutQuery = (url: string) => url.split('?', 1)[0]!;

/** Parses the GraphQL request of a POST body; undefined when there is none to sign. */
function graphqlRequest(body: unknown): SignedRequest | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const signedCaller: GatewayPlugin = {
  onContextBuilding({ extendContext }) {
    extendContext({ arcadiaConnection: connectionRef });
  },
  onSubgraphExecute({ subgraphName, transportEntry }) {
    // Runs before the subgraph's executor, hence before any fetch to it.
    const url = transportEntry?.location && withoutQuery(transportEntry.location);
    if (url && !subgraphByUrl.has(url)) subgraphByUrl.set(url, subgraphName);
  },
  async onFetch(payload) {
    const { url, options } = payload;
    const audience = subgraphByUrl.get(withoutQuery(url));
    // Hive POSTs every subgraph request here (no `useGETForQueries`). A fetch
    // with no JSON body, or to no subgraph, goes unsigned: a subgraph would
    // refuse it (401), which the bench reports as errors.
    const request = graphqlRequest(options.body);
    if (!audience || !request) return;
    const signed = await signCaller(ANONYMOUS, {
      audience,
      method: options.method ?? 'POST',
      request,
    });
    payload.setOptions({ ...options, headers: { ...options.headers, [CALLER_HEADER]: signed } });
  },
};

export const gatewayConfig = defineConfig({
  logging: (process.env.HIVE_LOG_LEVEL as 'warn' | undefined) ?? 'warn',
  inboundInflightRequestDeduplication: process.env.HIVE_INBOUND_DEDUP === 'yes',
  transportEntries: {
    '*.http': {
      options: { subscriptions: { kind: 'ws', location: '/graphql' } },
    },
    // Merged with the entry above: the connection signature is for `ticks` only.
    [SUBSCRIPTIONS_SUBGRAPH]: {
      options: {
        subscriptions: {
          options: {
            connectionParams: { [CALLER_HEADER]: '{context.arcadiaConnection.token}' },
          },
        },
      },
    },
  },
  plugins: () => [signedCaller],
});
