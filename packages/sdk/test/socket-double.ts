/**
 * A test double of the router's graphql-ws endpoint (protocol
 * `graphql-transport-ws`, docs/api.md "Subscriptions"): the token comes in
 * the `connection_init` payload as `authorization: "Bearer …"`, a refused
 * one closes with 4401 and the reason; the test pushes events, errors and
 * completions, and closes sockets as the router would.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

interface Subscription {
  id: string;
  socket: WebSocket;
  payload: { query: string; operationName?: string; variables?: Record<string, unknown> };
}

export async function startSocketDouble(
  options: { refuse?: (authorization: unknown) => string | undefined } = {},
) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const inits: unknown[] = [];
  const subscriptions = new Map<string, Subscription>();
  const completedByClient: string[] = [];
  const waiters: Array<() => void> = [];
  const changed = () => waiters.splice(0).forEach((w) => w());

  server.on('connection', (socket) => {
    socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString()) as {
        type: string;
        id?: string;
        payload?: Record<string, unknown>;
      };
      if (message.type === 'connection_init') {
        const authorization = message.payload?.authorization;
        inits.push(authorization);
        const refusal = options.refuse?.(authorization);
        if (refusal) socket.close(4401, refusal);
        else socket.send(JSON.stringify({ type: 'connection_ack' }));
      } else if (message.type === 'subscribe') {
        subscriptions.set(message.id!, {
          id: message.id!,
          socket,
          payload: message.payload as Subscription['payload'],
        });
      } else if (message.type === 'complete') {
        subscriptions.delete(message.id!);
        completedByClient.push(message.id!);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      }
      changed();
    });
    socket.on('close', () => {
      for (const [id, s] of subscriptions) if (s.socket === socket) subscriptions.delete(id);
      changed();
    });
  });

  /** Waits until `check` holds, failing loudly after `ms`. */
  const until = async (what: string, check: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };

  const send = (s: Subscription, message: Record<string, unknown>) =>
    s.socket.send(JSON.stringify({ id: s.id, ...message }));

  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    inits,
    subscriptions,
    completedByClient,
    until,
    /** Waits for `count` live subscriptions and returns them. */
    async live(count = 1) {
      await until(`${count} subscription(s)`, () => subscriptions.size >= count);
      return [...subscriptions.values()];
    },
    next(s: Subscription, payload: unknown) {
      send(s, { type: 'next', payload });
    },
    error(s: Subscription, errors: unknown[]) {
      send(s, { type: 'error', payload: errors });
      subscriptions.delete(s.id);
    },
    complete(s: Subscription) {
      send(s, { type: 'complete' });
      subscriptions.delete(s.id);
    },
    /** Closes every socket with `code` and `reason` (or drops it without a close frame). */
    closeAll(code: number | 'terminate', reason = '') {
      for (const socket of server.clients) {
        if (code === 'terminate') socket.terminate();
        else socket.close(code, reason);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of server.clients) socket.terminate();
        server.close(() => resolve());
      }),
  };
}
