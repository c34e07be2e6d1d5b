/**
 * The chat subgraph on its own, asked the way the router asks it for
 * entities (`_entities`), and its store's idempotent send. Users are made-up
 * ids: chat takes the caller's id from the router's signed header, and these
 * tests add members through the store, where accounts is never asked.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, createCallerSigner, type SignedRequest } from '@arcadia/auth';
import { dropKeyspace } from '@arcadia/cassandra';
import { createLogger } from '@arcadia/observability';
import { createPresence } from '@arcadia/presence';
import { createPushDevices, createPushNotifier, type PushNotifier } from '@arcadia/push';
import {
  createTestDatabase,
  testKeyMaterial,
  uniqueName,
  type TestDatabase,
} from '@arcadia/testing';
import type { SubgraphServer } from '@arcadia/subgraph-kit';
import { parseChatEnv, type ChatConfig } from '../src/env.js';
import { createChatPubSub } from '../src/events.js';
import { encodeMessageId } from '../src/ids.js';
import { createServer } from '../src/server.js';
import { openStore, timeIdAt, type Store } from '../src/store/index.js';

let config: ChatConfig;
let db: TestDatabase;
/** The store the server works with: the failure test breaks it. */
let serverStore: Store;
let push: PushNotifier;
let server: SubgraphServer;
let url: string;
let sign: (userId: string, request: SignedRequest) => Promise<string>;

beforeAll(async () => {
  const name = uniqueName('chat_refs');
  db = await createTestDatabase('chat');
  config = parseChatEnv({
    ...process.env,
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    CASSANDRA_KEYSPACE: name,
    QUEUE_PREFIX: name,
    PUBSUB_PREFIX: name,
    REDIS_KEY_PREFIX: `${name}:`,
    PRESENCE_PREFIX: `${name}:`,
    PUSH_PREFIX: `${name}:`,
  });
  const keys = await testKeyMaterial();
  const signer = createCallerSigner(keys.internalSecrets);
  sign = (userId, request) =>
    signer({ userId, roles: ['USER'], scopes: [] }, { audience: 'chat', request });
  serverStore = await openStore(config, createLogger('chat', 'silent'));
  push = createPushNotifier({ connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
  server = createServer({
    config,
    keys,
    store: serverStore,
    pubsub: createChatPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX }),
    presence: createPresence({ redis: serverStore.live.redis, prefix: config.PRESENCE_PREFIX }),
    devices: createPushDevices({ redis: serverStore.live.redis, prefix: config.PUSH_PREFIX }),
    push,
    // These tests add members through the store, never through startConversation.
    users: { existing: () => Promise.reject(new Error('accounts is not asked here')) },
    logger: createLogger('chat', 'silent'),
  });
  url = await server.listen(0);
}, 60_000);

afterAll(async () => {
  await push?.queue.queue.obliterate({ force: true }).catch(() => undefined);
  await server?.close();
  await Promise.allSettled([
    db?.drop(),
    config &&
      dropKeyspace({
        contactPoints: config.CASSANDRA_CONTACT_POINTS,
        localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
        keyspace: config.CASSANDRA_KEYSPACE,
      }),
  ]);
}, 30_000);

interface EntitiesResponse {
  data?: { _entities: (Record<string, unknown> | null)[] } | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

/** Asks the subgraph for entities as the router would, on behalf of `userId`. */
async function entities(
  userId: string,
  representations: { __typename: 'Message' | 'Conversation'; id: string }[],
): Promise<EntitiesResponse> {
  const request = {
    query: `query ($r: [_Any!]!) { _entities(representations: $r) {
        ... on Message { id text } ... on Conversation { id kind } } }`,
    variables: { r: representations },
  };
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [CALLER_HEADER]: await sign(userId, request),
    },
    body: JSON.stringify(request),
  });
  return (await response.json()) as EntitiesResponse;
}

/** Each error's path and code, in path order (errors come in the order resolvers failed). */
const codesByPath = (response: EntitiesResponse) =>
  (response.errors ?? [])
    .map((e) => [e.path?.join('.') ?? '', e.extensions?.code])
    .sort(([a], [b]) => a!.localeCompare(b!));

/** A conversation of `memberIds` with one message from the first of them. */
async function conversationWithMessage(memberIds: string[]) {
  const conversation = await serverStore.conversations.session().create({
    id: randomUUID(),
    kind: 'GROUP',
    title: 'References',
    createdBy: memberIds[0]!,
    memberIds,
  });
  const { message } = await serverStore.sendMessage({
    conversationId: conversation.id,
    senderId: memberIds[0]!,
    text: 'hello',
    clientMessageId: randomUUID(),
  });
  return { conversation, message };
}

describe('sending through the store', () => {
  it('writes a message once per client message id, returning it to every repeat', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const { conversation } = await conversationWithMessage([alice, bob]);
    const send = (senderId: string, text: string, clientMessageId = 'retry-me') =>
      serverStore.sendMessage({ conversationId: conversation.id, senderId, text, clientMessageId });

    const concurrent = await Promise.all([send(alice, 'once'), send(alice, 'once')]);
    const later = await send(alice, 'changed my mind');
    expect(new Set([...concurrent, later].map((s) => s.message.id)).size).toBe(1);
    expect([...concurrent, later].filter((s) => s.isNew)).toHaveLength(1);
    expect(later).toMatchObject({ isNew: false, message: { text: 'once' } });
    // The id is the sender's: another member's send with the same one is another message.
    const bobs = await send(bob, 'mine');
    expect(bobs.isNew).toBe(true);
    expect(bobs.message.id).not.toBe(later.message.id);

    const stored = await serverStore.messages.page(conversation.id, { limit: 10 });
    expect(stored.map((m) => m.text)).toEqual(['mine', 'once', 'hello']);
  });
  it('writes a message once per client message id when Redis has lost the claim, from the durable record', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const { conversation } = await conversationWithMessage([alice, bob]);
    const send = (text: string) =>
      serverStore.sendMessage({
        conversationId: conversation.id,
        senderId: alice,
        text,
        clientMessageId: 'lost-claim',
      });
    const first = await send('once');
    // As after an eviction or a failover: the claim is gone, Cassandra's record is not.
    const claims = await serverStore.live.redis.keys(
      `${config.REDIS_KEY_PREFIX}chat:client-message:{${conversation.id}}:${alice}:lost-claim`,
    );
    expect(claims).toHaveLength(1);
    await serverStore.live.redis.del(...claims);

    const retry = await send('again');
    expect(retry).toMatchObject({ isNew: false, message: { id: first.message.id, text: 'once' } });
    const stored = await serverStore.messages.page(conversation.id, { limit: 10 });
    expect(stored.map((m) => m.text)).toEqual(['once', 'hello']);
  });
});

describe('entity references', () => {
  it('resolves a malformed message id and a message that does not exist to null, without an error', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const { conversation, message } = await conversationWithMessage([alice, bob]);
    const missing = encodeMessageId({
      conversationId: conversation.id,
      timeId: timeIdAt(Date.now() * 1000 - 60_000_000),
    });
    const r = await entities(bob, [
      { __typename: 'Message', id: 'not-a-message-id' },
      { __typename: 'Message', id: missing },
      { __typename: 'Message', id: message.id },
    ]);
    expect(r.errors).toBeUndefined();
    expect(r.data!._entities).toEqual([null, null, { id: message.id, text: 'hello' }]);
  });

  it('answers FORBIDDEN, not null, for a message or conversation of others', async () => {
    const [alice, bob, mallory] = [randomUUID(), randomUUID(), randomUUID()];
    const { conversation, message } = await conversationWithMessage([alice, bob]);
    const r = await entities(mallory, [
      { __typename: 'Message', id: message.id },
      { __typename: 'Conversation', id: conversation.id },
      // One that does not exist is refused the same way: ids reveal nothing.
      { __typename: 'Conversation', id: randomUUID() },
    ]);
    expect(r.data!._entities).toEqual([null, null, null]);
    expect(codesByPath(r)).toEqual([
      ['_entities.0', 'FORBIDDEN'],
      ['_entities.1', 'FORBIDDEN'],
      ['_entities.2', 'FORBIDDEN'],
    ]);
  });

  // Last in the file: it breaks the server's store.
  it('surfaces a store that fails as an error, never as null', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const { conversation, message } = await conversationWithMessage([alice, bob]);
    const message$ = { __typename: 'Message', id: message.id } as const;
    const conversation$ = { __typename: 'Conversation', id: conversation.id } as const;
    // Positive control: the same requests answer while the stores do.
    expect((await entities(bob, [message$, conversation$])).data!._entities).toEqual([
      { id: message.id, text: 'hello' },
      { id: conversation.id, kind: 'GROUP' },
    ]);

    // PostgreSQL failing on the members table, which every check reads first.
    await db.query('ALTER TABLE members RENAME TO members_away');
    try {
      const noMembers = await entities(bob, [conversation$, message$]);
      expect(noMembers.data!._entities).toEqual([null, null]);
      expect(codesByPath(noMembers)).toEqual([
        ['_entities.0', 'INTERNAL_SERVER_ERROR'],
        ['_entities.1', 'INTERNAL_SERVER_ERROR'],
      ]);
    } finally {
      await db.query('ALTER TABLE members_away RENAME TO members');
    }

    // Cassandra (messages) gone, PostgreSQL back: membership reads, the message does not.
    await serverStore.messages.close();
    const noMessages = await entities(bob, [message$, conversation$]);
    expect(noMessages.data!._entities).toEqual([null, { id: conversation.id, kind: 'GROUP' }]);
    expect(noMessages.errors).toEqual([
      expect.objectContaining({
        message: 'Unexpected error.',
        path: ['_entities', 0],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      }),
    ]);
  });
});
