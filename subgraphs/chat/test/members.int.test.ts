/**
 * Who is in a conversation, through the router: only users accounts knows
 * can be added, a member whose account is gone shows as an error rather
 * than an unexplained null, a member can leave a group (and then hears and
 * reads nothing of it), and chat refuses to guess when accounts is away.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsSubgraph } from '@arcadia/accounts/testing';
import {
  eventually,
  failure,
  ok,
  startSubgraphHarness,
  type SubgraphHarness,
  type TestUser,
} from '@arcadia/testing';
import { chatSubgraph, type ChatUnderTest } from '../src/testing.js';

/** Pairs (sender → recipient) the stand-in for social's blocks refuses. */
const blocked = new Set<string>();
const asked: { senderId: string; recipientIds: readonly string[] }[] = [];

let h: SubgraphHarness<ChatUnderTest>;
beforeAll(async () => {
  h = await startSubgraphHarness({
    subject: chatSubgraph(
      {},
      {
        canMessage: (senderId, recipientIds) => {
          asked.push({ senderId, recipientIds });
          return Promise.resolve(!recipientIds.some((id) => blocked.has(`${senderId}>${id}`)));
        },
      },
    ),
    peers: [accountsSubgraph()],
  });
}, 60_000);
afterAll(() => h?.stop(), 30_000);

const START = `mutation ($ids: [ID!]!, $title: String) {
  startConversation(memberIds: $ids, title: $title) { id members { id } } }`;
const LEAVE = 'mutation ($c: ID!) { leaveConversation(conversationId: $c) }';
const SEND = `mutation ($c: ID!, $t: String!, $k: ID!) {
  sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id } }`;
const EVENTS = `subscription { chatEvents {
  __typename
  ... on MessageAdded { message { id conversation { id } } }
  ... on MemberLeft { conversation { id members { id } } user { id handle } }
} }`;

type Event = { __typename: string; [key: string]: any };

async function start(owner: TestUser, ids: string[], title?: string) {
  return h.request<{ startConversation: { id: string; members: { id: string }[] } }>(START, {
    token: owner.token,
    variables: { ids, title },
  });
}

async function started(owner: TestUser, others: TestUser[], title?: string): Promise<string> {
  return ok(
    await start(
      owner,
      others.map((u) => u.id),
      title,
    ),
  ).startConversation.id;
}

async function sent(user: TestUser, conversationId: string, text: string): Promise<string> {
  return ok(
    await h.request<{ sendMessage: { id: string } }>(SEND, {
      token: user.token,
      variables: { c: conversationId, t: text, k: randomUUID() },
    }),
  ).sendMessage.id;
}

async function listen(user: TestUser) {
  const subscription = await h.subscribe<{ chatEvents: Event }>(
    user,
    { query: EVENTS },
    { live: async () => (await h.subscribers(h.subject.userChannel(user.id))) > 0 },
  );
  return {
    get events() {
      return subscription.events.map((data) => data.chatEvents);
    },
    async waitFor(predicate: (e: Event) => boolean, what: string) {
      return (await subscription.waitFor((data) => predicate(data.chatEvents), what)).chatEvents;
    },
  };
}

/** Conversations with `userId` as a member, straight from chat's database. */
async function conversationsOf(userId: string): Promise<number> {
  const [row] = await h.subject.db.query<{ n: string }>(
    'select count(*) as n from members where user_id = $1',
    [userId],
  );
  return Number(row!.n);
}

describe('starting a conversation', () => {
  it('refuses member ids that name no user, listing them, and writes nothing', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const ghost = randomUUID();
    for (const ids of [[ghost], [bob.id, ghost]]) {
      const error = failure(await start(alice, ids, ids.length > 1 ? 'Party' : undefined));
      expect(error.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'memberIds',
        unknownIds: [ghost],
        serviceName: 'chat',
      });
    }
    expect(await conversationsOf(alice.id)).toBe(0);
    expect(await conversationsOf(ghost)).toBe(0);
    // Positive control: the same call with only real users goes through.
    const members = ok(await start(alice, [bob.id], 'Party')).startConversation.members;
    expect(members.map((m) => m.id).sort()).toEqual([alice.id, bob.id].sort());
  });
});

describe('a member whose account does not exist', () => {
  it('comes back as a NOT_FOUND error at its path, never as data null alone', async () => {
    const victim = await h.signUp();
    const ghost = randomUUID();
    // As a conversation made before member ids were checked.
    await h.subject.store.conversations.session().create({
      id: randomUUID(),
      kind: 'GROUP',
      title: 'Haunted',
      createdBy: ghost,
      memberIds: [ghost, victim.id],
    });
    const res = await h.request('{ conversations { edges { node { members { handle } } } } }', {
      token: victim.token,
    });
    // Members who joined together are listed by id.
    const ghostAt = [ghost, victim.id].sort().indexOf(ghost);
    expect(res.data).toBeNull();
    expect(res.errors).toEqual([
      expect.objectContaining({
        path: ['conversations', 'edges', 0, 'node', 'members', ghostAt, 'handle'],
        extensions: { code: 'NOT_FOUND' },
      }),
    ]);
  });
});

describe('a member whose account does not exist, in an event', () => {
  it('comes with a NOT_FOUND error instead of an event with null data and nothing else', async () => {
    const [victim, carol] = [await h.signUp(), await h.signUp()];
    const ghost = randomUUID();
    const id = randomUUID();
    await h.subject.store.conversations.session().create({
      id,
      kind: 'GROUP',
      title: 'Haunted',
      createdBy: carol.id,
      memberIds: [carol.id, ghost, victim.id],
    });
    const subscription = await h.subscribe(
      victim,
      {
        query: `subscription { chatEvents { ... on MemberLeft {
          user { id } conversation { members { handle } } } } }`,
      },
      { live: async () => (await h.subscribers(h.subject.userChannel(victim.id))) > 0 },
    );
    ok(await h.request(LEAVE, { token: carol.token, variables: { c: id } }));
    const ghostAt = [ghost, victim.id].sort().indexOf(ghost);
    await eventually(() => subscription.errors.length > 0, {
      what: () => `an error for the ghost member; got ${JSON.stringify(subscription.events)}`,
    });
    expect(subscription.errors).toEqual([
      expect.objectContaining({
        path: ['chatEvents', 'conversation', 'members', ghostAt, 'handle'],
        extensions: { code: 'NOT_FOUND' },
      }),
    ]);
  });
});

describe('leaving a group', () => {
  it('takes the leaver out of the list, the messages and the events, and tells the others', async () => {
    const [alice, bob, carol] = [await h.signUp(), await h.signUp(), await h.signUp()];
    const group = await started(alice, [bob, carol], 'Raid night');
    const direct = await started(alice, [bob]);
    await sent(alice, group, 'unread by bob');
    const bobEvents = await listen(bob);
    const carolEvents = await listen(carol);

    expect(ok(await h.request(LEAVE, { token: bob.token, variables: { c: group } }))).toEqual({
      leaveConversation: true,
    });
    const left = await carolEvents.waitFor((e) => e.__typename === 'MemberLeft', 'MemberLeft');
    expect(left.conversation.members).toHaveLength(2);
    expect(left).toEqual({
      __typename: 'MemberLeft',
      conversation: {
        id: group,
        members: expect.arrayContaining([{ id: alice.id }, { id: carol.id }]),
      },
      user: { id: bob.id, handle: bob.handle },
    });

    const list = ok(
      await h.request<{ conversations: { edges: { node: { id: string } }[] } }>(
        '{ conversations { edges { node { id } } } }',
        { token: bob.token },
      ),
    );
    expect(list.conversations.edges.map((e) => e.node.id)).toEqual([direct]);
    const read = await h.request('query ($id: ID!) { conversation(id: $id) { id } }', {
      token: bob.token,
      variables: { id: group },
    });
    expect(failure(read).extensions?.code).toBe('FORBIDDEN');
    const send = await h.request(SEND, {
      token: bob.token,
      variables: { c: group, t: 'still here?', k: randomUUID() },
    });
    expect(failure(send).extensions?.code).toBe('FORBIDDEN');
    // The unread set of the conversation he left is gone.
    expect(
      await h.subject.store.live.redis.exists(
        `${h.subject.config.REDIS_KEY_PREFIX}chat:unread:{${bob.id}}:${group}`,
      ),
    ).toBe(0);

    const after = await sent(alice, group, 'after bob left');
    await carolEvents.waitFor((e) => e.message?.id === after, 'the message for carol');
    // Positive control on bob's own stream, sent after the group message:
    // once it has arrived, the group message would have too.
    const control = await sent(alice, direct, 'control');
    await bobEvents.waitFor((e) => e.message?.id === control, 'the control message');
    expect(bobEvents.events).toEqual([
      { __typename: 'MessageAdded', message: { id: control, conversation: { id: direct } } },
    ]);

    // Leaving again changes nothing and says so.
    expect(ok(await h.request(LEAVE, { token: bob.token, variables: { c: group } }))).toEqual({
      leaveConversation: false,
    });
  });

  it('refuses to leave a direct conversation, which stays as it was', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    const direct = await started(alice, [bob]);
    const error = failure(await h.request(LEAVE, { token: bob.token, variables: { c: direct } }));
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'conversationId' });
    expect(await conversationsOf(bob.id)).toBe(1);
  });

  it('answers false for a conversation the caller is not in, whether or not it exists', async () => {
    const [alice, bob, mallory] = [await h.signUp(), await h.signUp(), await h.signUp()];
    const direct = await started(alice, [bob]);
    for (const c of [direct, randomUUID(), 'not-an-id']) {
      expect(ok(await h.request(LEAVE, { token: mallory.token, variables: { c } }))).toEqual({
        leaveConversation: false,
      });
    }
    expect(await conversationsOf(alice.id)).toBe(1);
  });
});

describe('the messaging policy, where social blocks will plug in', () => {
  it('is asked before every start and send, and never keeps anyone from leaving', async () => {
    const [alice, bob, carol] = [await h.signUp(), await h.signUp(), await h.signUp()];
    blocked.add(`${alice.id}>${bob.id}`);
    const refused = failure(await start(alice, [bob.id]));
    expect(refused.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'memberIds' });
    expect(await conversationsOf(alice.id)).toBe(0);

    const group = await started(carol, [alice, bob], 'Blocked inside');
    const send = await h.request(SEND, {
      token: alice.token,
      variables: { c: group, t: 'hi', k: randomUUID() },
    });
    expect(failure(send).extensions?.code).toBe('FORBIDDEN');
    expect(asked.filter((a) => a.senderId === alice.id)).toEqual([
      { senderId: alice.id, recipientIds: [bob.id] },
      { senderId: alice.id, recipientIds: expect.arrayContaining([bob.id, carol.id]) },
    ]);

    asked.length = 0;
    expect(ok(await h.request(LEAVE, { token: alice.token, variables: { c: group } }))).toEqual({
      leaveConversation: true,
    });
    expect(asked).toEqual([]);
  });
});

// Last: it stops accounts for the rest of the file.
describe('when accounts does not answer', () => {
  it('answers SERVICE_UNAVAILABLE naming accounts and starts nothing', async () => {
    const [alice, bob] = [await h.signUp(), await h.signUp()];
    await h.supergraph.stopSubgraph('accounts');
    const error = failure(await start(alice, [bob.id]));
    expect(error.extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      dependency: 'accounts',
    });
    expect(await conversationsOf(alice.id)).toBe(0);
  });
});
