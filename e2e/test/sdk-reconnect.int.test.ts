/**
 * A dropped network connection under an SDK subscription: the client
 * reconnects and resubscribes by itself, and events sent after the drop
 * arrive exactly once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatEventsDocument, SendMessageDocument, StartConversationDocument } from '@arcadia/sdk';
import { eventually } from '@arcadia/testing';
import { startSystem, type ArcadiaSystem } from '../src/system.js';
import { clientFactory, collect, signUpWith } from './sdk-fixtures.js';

describe('an SDK subscription whose socket is dropped', () => {
  let system: ArcadiaSystem;
  const clients = clientFactory(() => system);
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  it('reconnects, resubscribes and delivers every later event exactly once', async () => {
    const alice = clients.create().client;
    const bob = clients.create().client;
    await signUpWith(alice, 'alice');
    const bobSession = await signUpWith(bob, 'bob');
    const states: string[] = [];
    bob.on('connection', ({ state }) => states.push(state));
    const { startConversation } = await alice.request(StartConversationDocument, {
      memberIds: [bobSession.user.id],
    });
    const send = async (text: string) =>
      (
        await alice.request(SendMessageDocument, {
          conversationId: startConversation.id,
          text,
          clientMessageId: randomUUID(),
        })
      ).sendMessage.id;
    const channel = system.chat.userChannel(bobSession.user.id);
    const events = collect(bob.subscribe(ChatEventsDocument));
    const received = () =>
      events.events.flatMap((e) =>
        e.chatEvents.__typename === 'MessageAdded' ? [e.chatEvents.message.text] : [],
      );
    await eventually(() => system.harness.subscribers(channel), { what: 'chatEvents to go live' });

    await send('before the drop');
    await eventually(() => received().includes('before the drop'), {
      what: () => `the first message; got ${JSON.stringify(received())}`,
    });

    // Positive control for the drop: the router held exactly bob's socket.
    expect(system.dropSockets()).toBe(1);
    await eventually(() => states.includes('reconnecting'), {
      what: () => `the client to reconnect; states ${states.join(' → ')}`,
    });
    await eventually(
      async () =>
        states.filter((s) => s === 'connected').length === 2 &&
        (await system.harness.subscribers(channel)) === 1,
      { what: () => `chatEvents live again on a new socket; states ${states.join(' → ')}` },
    );

    const after = ['after the drop 1', 'after the drop 2', 'after the drop 3'];
    for (const text of after) await send(text);
    await eventually(() => after.every((text) => received().includes(text)), {
      what: () => `the messages sent after the drop; got ${JSON.stringify(received())}`,
    });
    expect(received()).toEqual(['before the drop', ...after]);
    expect(events.error).toBeUndefined();
    expect(events.done).toBe(false);
    await events.stop();
    expect(events.done).toBe(true);
  });
});
