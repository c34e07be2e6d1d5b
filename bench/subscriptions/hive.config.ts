/**
 * Hive Gateway configuration for the subscriptions benchmark, loaded by
 * `hive-gateway supergraph <file> -c bench/subscriptions/hive.config.ts`
 * (under `node --import tsx`, so it can use the workspace's TS packages).
 *
 * Arcadia subgraphs refuse any request without the router's signed caller
 * (`x-arcadia-caller`, an HS256 JWT valid for 60 s): on HTTP in a header of
 * every request, on graphql-ws in `connectionParams` when the socket
 * connects. Hive signs an anonymous caller here and renews it every 20 s;
 * transport entries interpolate it from the context into the HTTP headers of
 * every entity fetch and into the connectionParams of the WebSocket Hive
 * opens to the `ticks` subgraph for subscriptions (checked once, when that
 * socket connects; Hive opens a new socket whenever the value changes).
 */
import { join } from 'node:path';
import { ANONYMOUS, createCallerSigner, loadKeyMaterial } from '@arcadia/auth';
import { defineConfig, type GatewayPlugin } from '@graphql-hive/gateway';

const home = process.env.ARCADIA_HOME;
if (!home) throw new Error('ARCADIA_HOME is required');
const keys = await loadKeyMaterial({ localFile: join(home, 'keys.json') });
const signCaller = createCallerSigner(keys.internalSecrets);

let caller = await signCaller(ANONYMOUS);
// A subscription keeps the context it was started with for its whole life,
// while its entity fetches need a caller signed less than 60 s ago: the
// context holds this object, whose getter always returns the newest one.
const callerRef = {
  get token() {
    return caller;
  },
};
setInterval(() => {
  signCaller(ANONYMOUS).then(
    (signed) => (caller = signed),
    (error: unknown) => console.error('could not sign the caller', error),
  );
}, 20_000).unref();

const callerFromContext = '{context.arcadiaCaller.token}';

const signedCaller: GatewayPlugin = {
  onContextBuilding({ extendContext }) {
    extendContext({ arcadiaCaller: callerRef });
  },
};

export const gatewayConfig = defineConfig({
  logging: (process.env.HIVE_LOG_LEVEL as 'warn' | undefined) ?? 'warn',
  transportEntries: {
    '*.http': {
      headers: [['x-arcadia-caller', callerFromContext]],
      options: {
        subscriptions: {
          kind: 'ws',
          location: '/graphql',
          options: { connectionParams: { 'x-arcadia-caller': callerFromContext } },
        },
      },
    },
  },
  plugins: () => [signedCaller],
});
