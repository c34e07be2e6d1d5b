import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import {
  eventually,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import { chatSubgraph, type ChatUnderTest } from '../src/testing.js';

let h: SubgraphHarness<ChatUnderTest>;
beforeAll(async () => {
  h = await startSubgraphHarness({
    subject: chatSubgraph({
      // Tiny partitions, so history crosses buckets within a test.
      CHAT_BUCKET_MS: '150',
      CHAT_EDIT_WINDOW_SECONDS: '2',
      // Long enough that collapsed push jobs are still waiting when inspected.
      PUSH_COLLAPSE_WINDOW_MS: '60000',
      CHAT_TYPING_INTERVAL_MS: '60000',
    }),
    peers: [accountsSubgraph()],
  });
}, 60_000);
afterAll(() => h?.stop(), 30_000);

const MESSAGE =
  'id text clientMessageId createdAt editedAt deleted sender { id handle } conversation { id }';
const START = `mutation ($ids: [ID!]!, $title: String) {
  startConversation(memberIds: $ids, title: $title) { id kind title members { id } } }`;
const SEND = `mutation ($c: ID!, $t: String!, $k: ID!) {
  sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { ${MESSAGE} } }`;
const EVENTS = `subscription { chatEvents {
  __typename
  ... on MessageAdded { message { id text sender { id handle } } }
  ... on MessageUpdated { message { id text deleted editedAt } }
  ... on MessageDelivered { message { id } user { id } }
  ... on MessageRead { conversation { id } user { id } upTo { id } }
  ... on TypingStarted { conversation { id } user { id handle } }
} }`;
const UNREAD = 'query ($id: ID!) { conversation(id: $id) { unreadCount lastMessage { id } } }';

type Event = { __typename: string; [key: string]: any };

/**
 * Subscribes `user` to chatEvents and collects what arrives; resolves once
 * the subscription is live (the subgraph listens on the user's channel).
 */
async function listen(user: TestUser, url?: string) {
  const subscription = await h.subscribe<{ chatEvents: Event }>(
    user,
    { query: EVENTS },
    {
      url,
      live: async () => (await h.subscribers(h.subject.userChannel(user.id))) > 0,
    },
  );
  return {
    get events() {
      return subscription.events.map((data) => data.chatEvents);
    },
    errors: subscription.errors,
    async waitFor(predicate: (e: Event) => boolean, what: string) {
      return (await subscription.waitFor((data) => predicate(data.chatEvents), what)).chatEvents;
    },
    unsubscribe: subscription.unsubscribe,
  };
}

async function start(owner: TestUser, others: TestUser[], title?: string): Promise<string> {
  const r = await h.request(START, {
    token: owner.token,
    variables: { ids: others.map((u) => u.id), title },
  });
  expect(r.errors).toBeUndefined();
  return r.data!.startConversation.id as string;
}

async function send(
  user: TestUser,
  conversationId: string,
  text: string,
  key: string = randomUUID(),
) {
  const r = await h.request(SEND, {
    token: user.token,
    variables: { c: conversationId, t: text, k: key },
  });
  return r;
}

async function sent(user: TestUser, conversationId: string, text: string, key?: string) {
  const r = await send(user, conversationId, text, key);
  expect(r.errors).toBeUndefined();
  return r.data!.sendMessage as { id: string; text: string; createdAt: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two users chatting', () => {
  it('delivers a message live, and receipts flow back to the sender', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const aliceEvents = await listen(alice);
    const bobEvents = await listen(bob);

    const message = await sent(alice, conversationId, '  こんにちは  ');
    expect(message.text).toBe('こんにちは');
    const added = await bobEvents.waitFor((e) => e.__typename === 'MessageAdded', 'MessageAdded');
    expect(added.message).toMatchObject({
      id: message.id,
      text: 'こんにちは',
      sender: { id: alice.id, handle: alice.handle },
    });

    expect(
      (await h.request(UNREAD, { token: bob.token, variables: { id: conversationId } })).data!
        .conversation,
    ).toEqual({
      unreadCount: 1,
      lastMessage: { id: message.id },
    });
    expect(
      (await h.request(UNREAD, { token: alice.token, variables: { id: conversationId } })).data!
        .conversation.unreadCount,
    ).toBe(0);

    const delivered = await h.request(
      'mutation ($ids: [ID!]!) { markDelivered(messageIds: $ids) { id deliveredTo { id } readBy { id } } }',
      { token: bob.token, variables: { ids: [message.id] } },
    );
    expect(delivered.data!.markDelivered).toEqual([
      { id: message.id, deliveredTo: [{ id: bob.id }], readBy: [] },
    ]);
    const deliveredEvent = await aliceEvents.waitFor(
      (e) => e.__typename === 'MessageDelivered',
      'MessageDelivered',
    );
    expect(deliveredEvent).toMatchObject({ message: { id: message.id }, user: { id: bob.id } });

    const read = await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id unreadCount } }',
      { token: bob.token, variables: { c: conversationId, m: message.id } },
    );
    expect(read.data!.markRead).toEqual({ id: conversationId, unreadCount: 0 });
    const readEvent = await aliceEvents.waitFor(
      (e) => e.__typename === 'MessageRead',
      'MessageRead',
    );
    expect(readEvent).toMatchObject({
      conversation: { id: conversationId },
      user: { id: bob.id },
      upTo: { id: message.id },
    });

    const history = await h.request(
      `query ($id: ID!) { conversation(id: $id) { messages(first: 10) { edges { node { id readBy { id } deliveredTo { id } } } } } }`,
      { token: alice.token, variables: { id: conversationId } },
    );
    expect(history.data!.conversation.messages.edges).toEqual([
      { node: { id: message.id, readBy: [{ id: bob.id }], deliveredTo: [{ id: bob.id }] } },
    ]);
  });

  it('reuses the direct conversation of a pair, whoever starts it', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const [first, second, third] = await Promise.all([
      start(alice, [bob]),
      start(bob, [alice]),
      start(alice, [bob]),
    ]);
    expect(second).toBe(first);
    expect(third).toBe(first);
    const list = await h.request(
      '{ conversations { edges { node { id kind members { id } } } } }',
      { token: alice.token },
    );
    expect(list.data!.conversations.edges).toHaveLength(1);
    expect(list.data!.conversations.edges[0].node.kind).toBe('DIRECT');
  });

  it('returns the same message for a retried send, without a second copy or unread', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const key = randomUUID();
    const [a, b] = await Promise.all([
      sent(alice, conversationId, 'once', key),
      sent(alice, conversationId, 'once', key),
    ]);
    const c = await sent(alice, conversationId, 'once', key);
    expect(new Set([a.id, b.id, c.id]).size).toBe(1);
    const view = await h.request(
      `query ($id: ID!) { conversation(id: $id) { unreadCount messages { edges { node { id } } } } }`,
      { token: bob.token, variables: { id: conversationId } },
    );
    expect(view.data!.conversation.unreadCount).toBe(1);
    expect(view.data!.conversation.messages.edges).toHaveLength(1);
  });

  it('refuses empty, overlong and control-character texts and stores nothing', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    for (const text of ['   ', 'x'.repeat(4001), 'bell\u0007']) {
      const r = await send(alice, conversationId, text);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect((await send(alice, conversationId, 'line one\nline two')).errors).toBeUndefined();
    const view = await h.request(
      `query ($id: ID!) { conversation(id: $id) { messages { edges { node { text } } } } }`,
      {
        token: alice.token,
        variables: { id: conversationId },
      },
    );
    expect(view.data!.conversation.messages.edges).toEqual([
      { node: { text: 'line one\nline two' } },
    ]);
  });
});

describe('members only', () => {
  it('denies a non-member sending, reading, marking and hearing the conversation', async () => {
    const [alice, bob, mallory] = [await h.signUp(), await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const malloryEvents = await listen(mallory);
    const bobEvents = await listen(bob);
    const message = await sent(alice, conversationId, 'private');

    expect((await send(mallory, conversationId, 'let me in')).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    const read = await h.request(
      `query ($id: ID!) { conversation(id: $id) { id messages { edges { node { text } } } } }`,
      {
        token: mallory.token,
        variables: { id: conversationId },
      },
    );
    expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(read.data?.conversation ?? null).toBeNull();
    const mark = await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id } }',
      {
        token: mallory.token,
        variables: { c: conversationId, m: message.id },
      },
    );
    expect(mark.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const edit = await h.request(
      'mutation ($id: ID!) { editMessage(id: $id, text: "mine now") { id } }',
      {
        token: mallory.token,
        variables: { id: message.id },
      },
    );
    expect(edit.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await bobEvents.waitFor((e) => e.message?.id === message.id, 'MessageAdded');
    // Positive control on mallory's own stream, sent after everything above:
    // once it has arrived, any event of the private conversation would have too.
    const control = await sent(bob, await start(bob, [mallory]), 'control');
    await malloryEvents.waitFor((e) => e.message?.id === control.id, 'the control message');
    expect(malloryEvents.events).toEqual([
      { __typename: 'MessageAdded', message: expect.objectContaining({ id: control.id }) },
    ]);
    const anonymous = await h.request('{ conversations { edges { node { id } } } }');
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('groups', () => {
  it('fans a message out to every member and counts unread per member', async () => {
    const [alice, bob, carol] = [await h.signUp(), await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob, carol], 'Raid night');
    const bobEvents = await listen(bob);
    const carolEvents = await listen(carol);
    const m1 = await sent(alice, conversationId, 'ready?');
    const m2 = await sent(bob, conversationId, 'yes');
    await bobEvents.waitFor((e) => e.message?.id === m1.id, 'm1 for bob');
    await carolEvents.waitFor((e) => e.message?.id === m2.id, 'm2 for carol');
    const count = async (user: TestUser) =>
      (await h.request(UNREAD, { token: user.token, variables: { id: conversationId } })).data!
        .conversation.unreadCount;
    expect([await count(alice), await count(bob), await count(carol)]).toEqual([1, 1, 2]);
    await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id } }',
      {
        token: carol.token,
        variables: { c: conversationId, m: m1.id },
      },
    );
    expect(await count(carol)).toBe(1);
    // An older read after a newer one does not move the receipt back.
    await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id } }',
      {
        token: carol.token,
        variables: { c: conversationId, m: m2.id },
      },
    );
    await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id } }',
      {
        token: carol.token,
        variables: { c: conversationId, m: m1.id },
      },
    );
    const receipts = await h.request(
      `query ($id: ID!) { conversation(id: $id) { messages { edges { node { id readBy { id } } } } } }`,
      {
        token: alice.token,
        variables: { id: conversationId },
      },
    );
    expect(receipts.data!.conversation.messages.edges[0].node).toEqual({
      id: m2.id,
      readBy: [{ id: carol.id }],
    });
    expect(await count(carol)).toBe(0);
  });

  it('tells the others someone is typing, at most once per interval', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob], 'Typing');
    const bobEvents = await listen(bob);
    const typing = 'mutation ($c: ID!) { setTyping(conversationId: $c) }';
    expect(
      (await h.request(typing, { token: alice.token, variables: { c: conversationId } })).data!
        .setTyping,
    ).toBe(true);
    expect(
      (await h.request(typing, { token: alice.token, variables: { c: conversationId } })).data!
        .setTyping,
    ).toBe(false);
    const event = await bobEvents.waitFor((e) => e.__typename === 'TypingStarted', 'TypingStarted');
    expect(event).toMatchObject({
      conversation: { id: conversationId },
      user: { id: alice.id, handle: alice.handle },
    });
    // Positive control on the same stream, after the second notice: once it
    // has arrived, a second TypingStarted would have too.
    const control = await sent(alice, conversationId, 'control');
    await bobEvents.waitFor((e) => e.message?.id === control.id, 'the control message');
    expect(bobEvents.events.filter((e) => e.__typename === 'TypingStarted')).toHaveLength(1);
  });
});

describe('the conversation list', () => {
  it('orders conversations by last activity, with unread counts and last messages, page by page', async () => {
    const [alice, bob, carol, dave] = [
      await h.signUp(),
      await h.signUp(),
      await h.signUp(),
      await h.signUp(),
    ];
    const withBob = await start(alice, [bob]);
    const withCarol = await start(alice, [carol]);
    const withDave = await start(alice, [dave]);
    await sent(dave, withDave, 'first');
    const latest = await sent(bob, withBob, 'latest');
    await sent(alice, withCarol, 'middle');
    await sent(bob, withBob, 'latest again');
    const list = `query ($after: String) { conversations(first: 2, after: $after) {
      edges { cursor node { id unreadCount lastMessage { text } } } pageInfo { hasNextPage endCursor } } }`;
    const first = await h.request(list, { token: alice.token });
    expect(first.data!.conversations.edges.map((e: any) => e.node)).toEqual([
      { id: withBob, unreadCount: 2, lastMessage: { text: 'latest again' } },
      { id: withCarol, unreadCount: 0, lastMessage: { text: 'middle' } },
    ]);
    expect(first.data!.conversations.pageInfo.hasNextPage).toBe(true);
    const second = await h.request(list, {
      token: alice.token,
      variables: { after: first.data!.conversations.pageInfo.endCursor },
    });
    expect(second.data!.conversations.edges.map((e: any) => e.node)).toEqual([
      { id: withDave, unreadCount: 1, lastMessage: { text: 'first' } },
    ]);
    expect(second.data!.conversations.pageInfo.hasNextPage).toBe(false);
    expect(latest.text).toBe('latest');
  });

  it('rebuilds unread counts from Cassandra when Redis has lost them', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const m1 = await sent(alice, conversationId, 'one');
    await sent(alice, conversationId, 'two');
    await sent(bob, conversationId, 'my own');
    await sent(alice, conversationId, 'three');
    await h.request(
      'mutation ($c: ID!, $m: ID!) { markRead(conversationId: $c, upTo: $m) { id } }',
      {
        token: bob.token,
        variables: { c: conversationId, m: m1.id },
      },
    );
    // As after a Redis failover that lost the key.
    const keys = await h.subject.store.live.redis.keys(
      `${h.subject.config.REDIS_KEY_PREFIX}chat:unread:{${bob.id}}:*`,
    );
    expect(keys).toHaveLength(1);
    await h.subject.store.live.redis.del(...keys);
    const count = async () =>
      (await h.request(UNREAD, { token: bob.token, variables: { id: conversationId } })).data!
        .conversation.unreadCount;
    expect(await count()).toBe(2);
    // Rebuilt, it counts on as before.
    await sent(alice, conversationId, 'four');
    expect(await count()).toBe(3);
  });
});

describe('history', () => {
  it('pages back through buckets, skipping empty ones, with nothing missing or repeated', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob], 'History');
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      ids.push((await sent(i % 2 ? bob : alice, conversationId, `m${i}`)).id);
      // Gaps of several 150 ms buckets between some messages leave empty buckets.
      if (i % 3 === 2) await sleep(400);
    }
    const seen: string[] = [];
    let before: string | null = null;
    for (;;) {
      const r: { data?: any } = await h.request(
        `query ($id: ID!, $before: ID) { conversation(id: $id) { messages(first: 4, before: $before) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`,
        { token: bob.token, variables: { id: conversationId, before } },
      );
      const page: { edges: any[]; pageInfo: { hasNextPage: boolean; endCursor: string } } =
        r.data.conversation.messages;
      seen.push(...page.edges.map((e: any) => e.node.id));
      // A message sent while paging is newer than every cursor: it does not shift the pages.
      if (!before) await sent(alice, conversationId, 'while paging');
      if (!page.pageInfo.hasNextPage) break;
      before = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());

    const forward = await h.request(
      `query ($id: ID!, $after: ID) { conversation(id: $id) { messages(first: 3, after: $after) { edges { node { id text } } } } }`,
      { token: bob.token, variables: { id: conversationId, after: ids[5] } },
    );
    expect(forward.data!.conversation.messages.edges.map((e: any) => e.node.id)).toEqual(
      ids.slice(6, 9),
    );
  });

  it('lets a client that was offline catch up with exactly what it missed', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const bobEvents = await listen(bob);
    const last = await sent(alice, conversationId, 'before the tunnel');
    await bobEvents.waitFor((e) => e.message?.id === last.id, 'last seen');
    bobEvents.unsubscribe();
    const missed = [];
    for (const text of ['one', 'two', 'three'])
      missed.push((await sent(alice, conversationId, text)).id);
    const caughtUp = await h.request(
      `query ($id: ID!, $after: ID) { conversation(id: $id) { unreadCount messages(after: $after) { edges { node { id } } pageInfo { hasNextPage } } } }`,
      { token: bob.token, variables: { id: conversationId, after: last.id } },
    );
    expect(caughtUp.data!.conversation.messages.edges.map((e: any) => e.node.id)).toEqual(missed);
    expect(caughtUp.data!.conversation.unreadCount).toBe(4);
  });
});

describe('editing and deleting', () => {
  it('lets only the sender edit within the window and delete, and tells the members', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const bobEvents = await listen(bob);
    const message = await sent(alice, conversationId, 'teh');
    const edit = (user: TestUser, text: string) =>
      h.request(
        'mutation ($id: ID!, $t: String!) { editMessage(id: $id, text: $t) { id text editedAt } }',
        {
          token: user.token,
          variables: { id: message.id, t: text },
        },
      );
    expect((await edit(bob, 'not mine')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const edited = await edit(alice, 'the');
    expect(edited.data!.editMessage.text).toBe('the');
    expect(edited.data!.editMessage.editedAt).toEqual(expect.any(String));
    await bobEvents.waitFor(
      (e) => e.__typename === 'MessageUpdated' && e.message.text === 'the',
      'edit',
    );

    const late = await sent(alice, conversationId, 'too late to fix');
    await sleep(2100);
    const tooLate = await h.request(
      'mutation ($id: ID!) { editMessage(id: $id, text: "fixed") { id } }',
      {
        token: alice.token,
        variables: { id: late.id },
      },
    );
    expect(tooLate.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const del = (user: TestUser) =>
      h.request('mutation ($id: ID!) { deleteMessage(id: $id) { id text deleted } }', {
        token: user.token,
        variables: { id: message.id },
      });
    expect((await del(bob)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await del(alice)).data!.deleteMessage).toEqual({
      id: message.id,
      text: '',
      deleted: true,
    });
    await bobEvents.waitFor(
      (e) => e.__typename === 'MessageUpdated' && e.message.deleted,
      'delete',
    );
    const view = await h.request(
      `query ($id: ID!) { conversation(id: $id) { messages { edges { node { id text deleted } } } } }`,
      {
        token: bob.token,
        variables: { id: conversationId },
      },
    );
    expect(view.data!.conversation.messages.edges.map((e: any) => e.node)).toContainEqual({
      id: message.id,
      text: '',
      deleted: true,
    });
  });
});

describe('push notifications', () => {
  const pendingJobs = async (userId: string) =>
    (await h.subject.push.queue.queue.getJobs(['delayed', 'waiting', 'active'])).filter(
      (j) => j?.data.userId === userId,
    );

  it('queues one collapsed notification for an offline member and none for an online or muted one', async () => {
    const [alice, bob, carol, dave] = [
      await h.signUp(),
      await h.signUp(),
      await h.signUp(),
      await h.signUp(),
    ];
    const conversationId = await start(alice, [bob, carol, dave], 'Squad');
    await listen(carol); // online: a live socket through the router
    await eventually(async () => (await h.subject.presence.online([carol.id])).has(carol.id), {
      what: 'carol online',
    });
    const muted = await h.request(
      'mutation ($c: ID!) { muteConversation(conversationId: $c, muted: true) { muted } }',
      {
        token: dave.token,
        variables: { c: conversationId },
      },
    );
    expect(muted.data!.muteConversation.muted).toBe(true);

    await sent(alice, conversationId, 'first');
    await sent(alice, conversationId, 'second');
    await sent(alice, conversationId, 'third, the latest');

    // sendMessage queues before it answers. Bob's job is the positive control:
    // the same queue, holding the latest of the three, so every decision about
    // carol and dave has been made by now.
    const bobJobs = await pendingJobs(bob.id);
    expect(bobJobs).toHaveLength(1);
    expect(bobJobs[0]!.data).toMatchObject({
      userId: bob.id,
      collapseKey: `chat:${conversationId}`,
      title: 'Squad',
      body: `${alice.displayName}: third, the latest`,
      count: 3,
    });
    expect(await pendingJobs(carol.id)).toHaveLength(0);
    expect(await pendingJobs(dave.id)).toHaveLength(0);
  });
});

describe('several router instances', () => {
  it('delivers to a subscriber on one router a message sent through another', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    const other = await h.supergraph.addRouter();
    const bobEvents = await listen(bob, other.url.replace(/^http/, 'ws'));
    const message = await sent(alice, conversationId, 'across instances');
    const added = await bobEvents.waitFor((e) => e.message?.id === message.id, 'MessageAdded');
    expect(added.message.text).toBe('across instances');
  });
});

describe('metrics', () => {
  it('counts messages sent and events published on the subgraph /metrics', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const conversationId = await start(alice, [bob]);
    await sent(alice, conversationId, 'counted');
    const url = h.subgraphUrl('chat').replace(/\/graphql$/, '/metrics');
    const text = await (await fetch(url)).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('chat_messages_sent_total')).toBeGreaterThan(0);
    expect(text).toMatch(/chat_events_published_total\{[^}]*type="MessageAdded"[^}]*\} \d+/);
  });
});
