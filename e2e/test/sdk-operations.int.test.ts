/**
 * Every operation the SDK ships (packages/sdk/operations/*.graphql) run once
 * through the client against the whole system, as one story: users sign up,
 * chat, upload an image, an admin grants PARTNER, a partner manages an API
 * client. The last test checks that the story left no operation out.
 */
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatEventsDocument,
  CompleteImageUploadDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateApiClientDocument,
  CreateImageUploadDocument,
  DeleteImageDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  GrantRoleDocument,
  ImageDocument,
  ImageUpdatedDocument,
  IssueClientTokenDocument,
  LeaveConversationDocument,
  MarkDeliveredDocument,
  MarkReadDocument,
  MeDocument,
  MessagesDocument,
  MuteConversationDocument,
  RefreshSessionDocument,
  RegisterPushSubscriptionDocument,
  ReprocessImageDocument,
  RevokeApiClientDocument,
  SendMessageDocument,
  SetAvatarDocument,
  SetTypingDocument,
  SignInDocument,
  SignOutDocument,
  SignUpDocument,
  StartConversationDocument,
  UnregisterPushSubscriptionDocument,
  UserByHandleDocument,
  UserDocument,
  WebPushPublicKeyDocument,
  type ArcadiaClient,
  type ChatEventsSubscription,
  type StoredSession,
} from '@arcadia/sdk';
import { eventually } from '@arcadia/testing';
import { pngImage } from '../src/images.js';
import { startSystem, type ArcadiaSystem } from '../src/system.js';
import { clientFactory, collect, newUserInput, signUpWith } from './sdk-fixtures.js';

/** The operations of the SDK's `.graphql` files, by name. */
function shippedOperations(): string[] {
  const dir = new URL('../../packages/sdk/operations/', import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .flatMap((f) =>
      [
        ...readFileSync(new URL(f, dir), 'utf8').matchAll(
          /^(?:query|mutation|subscription)\s+(\w+)/gm,
        ),
      ].map((m) => m[1]!),
    );
}

describe('every SDK operation through the client against the whole system', () => {
  let system: ArcadiaSystem;
  const clients = clientFactory(() => system);
  /** Names of the operations the story ran. */
  const ran = new Set<string>();
  const run = <T>(name: string, result: Promise<T>): Promise<T> => {
    ran.add(name);
    return result;
  };

  let alice: ArcadiaClient;
  let bob: ArcadiaClient;
  let aliceSession: StoredSession;
  let bobSession: StoredSession;
  let carolSession: StoredSession;

  beforeAll(async () => {
    system = await startSystem();
    alice = clients.create().client;
    bob = clients.create().client;
    aliceSession = await signUpWith(alice, 'alice');
    bobSession = await signUpWith(bob, 'bob');
    carolSession = await signUpWith(clients.create().client, 'carol');
  });
  afterAll(async () => {
    await clients.closeAll();
    await system?.stop();
  });

  it('signs up, signs in, refreshes and signs out with the raw session operations', async () => {
    const { client } = clients.create();
    const input = newUserInput('raw');
    const { signUp } = await run('SignUp', client.request(SignUpDocument, { input }));
    expect(signUp.user).toMatchObject({
      handle: input.handle,
      email: input.email,
      roles: ['USER'],
    });

    const { signIn } = await run(
      'SignIn',
      client.request(SignInDocument, { email: input.email, password: input.password }),
    );
    expect(signIn.user.id).toBe(signUp.user.id);

    const { refreshSession } = await run(
      'RefreshSession',
      client.request(RefreshSessionDocument, { refreshToken: signIn.refreshToken }),
    );
    expect(refreshSession.refreshToken).not.toBe(signIn.refreshToken);

    // SignOut ends the session of the caller: a client signed in as that user.
    const signedIn = clients.create().client;
    await signedIn.session.signIn(input.email, input.password);
    expect(await run('SignOut', signedIn.request(SignOutDocument))).toEqual({ signOut: true });
  });

  it('reads the signed-in user and others by id and by handle', async () => {
    const { me } = await run('Me', alice.request(MeDocument));
    expect(me).toMatchObject({ id: aliceSession.user.id, roles: ['USER'] });
    const { user } = await run('User', alice.request(UserDocument, { id: bobSession.user.id }));
    expect(user?.handle).toBe(bobSession.user.handle);
    const { userByHandle } = await run(
      'UserByHandle',
      alice.request(UserByHandleDocument, { handle: bobSession.user.handle.toUpperCase() }),
    );
    expect(userByHandle?.id).toBe(bobSession.user.id);
  });

  it('runs a group chat: messages, edits, receipts, typing, mute, delete and leave, with live events', async () => {
    ran.add('ChatEvents');
    const bobEvents = collect(bob.subscribe(ChatEventsDocument));
    await eventually(
      () => system.harness.subscribers(system.chat.userChannel(bobSession.user.id)),
      {
        what: "bob's chatEvents to go live",
      },
    );
    const seen = (typename: ChatEventsSubscription['chatEvents']['__typename']) =>
      eventually(() => bobEvents.events.find((e) => e.chatEvents.__typename === typename), {
        what: () => `${typename} for bob; got ${JSON.stringify(bobEvents.events)}`,
      });

    const { startConversation: conversation } = await run(
      'StartConversation',
      alice.request(StartConversationDocument, {
        memberIds: [bobSession.user.id, carolSession.user.id],
        title: 'Raid night',
      }),
    );
    expect(conversation).toMatchObject({ kind: 'GROUP', title: 'Raid night' });

    const clientMessageId = randomUUID();
    const { sendMessage: message } = await run(
      'SendMessage',
      alice.request(SendMessageDocument, {
        conversationId: conversation.id,
        text: 'Ready at nine?',
        clientMessageId,
      }),
    );
    expect(message).toMatchObject({ clientMessageId, text: 'Ready at nine?' });
    expect(await seen('MessageAdded')).toMatchObject({
      chatEvents: { message: { id: message.id, text: 'Ready at nine?' } },
    });

    const { editMessage } = await run(
      'EditMessage',
      alice.request(EditMessageDocument, { id: message.id, text: 'Ready at ten?' }),
    );
    expect(editMessage.editedAt).not.toBeNull();
    await seen('MessageUpdated');

    const { markDelivered } = await run(
      'MarkDelivered',
      bob.request(MarkDeliveredDocument, { messageIds: [message.id] }),
    );
    expect(markDelivered[0]?.deliveredTo.map((u) => u.id)).toContain(bobSession.user.id);
    const { markRead } = await run(
      'MarkRead',
      bob.request(MarkReadDocument, { conversationId: conversation.id, upTo: message.id }),
    );
    expect(markRead.unreadCount).toBe(0);

    const { conversations } = await run(
      'Conversations',
      bob.request(ConversationsDocument, { first: 10 }),
    );
    expect(conversations.edges.map((e) => e.node.id)).toContain(conversation.id);
    const { conversation: one } = await run(
      'Conversation',
      bob.request(ConversationDocument, { id: conversation.id }),
    );
    expect(one?.lastMessage?.text).toBe('Ready at ten?');
    const { conversation: withMessages } = await run(
      'Messages',
      bob.request(MessagesDocument, { conversationId: conversation.id, first: 10 }),
    );
    expect(withMessages?.messages.edges.map((e) => e.node.id)).toEqual([message.id]);

    expect(
      await run('SetTyping', alice.request(SetTypingDocument, { conversationId: conversation.id })),
    ).toEqual({ setTyping: true });
    await seen('TypingStarted');

    const { muteConversation } = await run(
      'MuteConversation',
      bob.request(MuteConversationDocument, { conversationId: conversation.id, muted: true }),
    );
    expect(muteConversation.muted).toBe(true);

    const { deleteMessage } = await run(
      'DeleteMessage',
      alice.request(DeleteMessageDocument, { id: message.id }),
    );
    expect(deleteMessage.deleted).toBe(true);

    expect(
      await run(
        'LeaveConversation',
        bob.request(LeaveConversationDocument, { conversationId: conversation.id }),
      ),
    ).toEqual({ leaveConversation: true });
    await bobEvents.stop();
    expect(bobEvents.error).toBeUndefined();
  });

  it('registers and unregisters a Web Push subscription', async () => {
    const { webPushPublicKey } = await run(
      'WebPushPublicKey',
      alice.request(WebPushPublicKeyDocument),
    );
    // No VAPID key is configured in tests: push is not set up.
    expect(webPushPublicKey).toBeNull();
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const endpoint = `https://push.example.com/${randomUUID()}`;
    const { registerPushSubscription } = await run(
      'RegisterPushSubscription',
      alice.request(RegisterPushSubscriptionDocument, {
        subscription: {
          endpoint,
          p256dh: ecdh.getPublicKey().toString('base64url'),
          auth: randomBytes(16).toString('base64url'),
        },
      }),
    );
    expect(registerPushSubscription).toBe(true);
    const { unregisterPushSubscription } = await run(
      'UnregisterPushSubscription',
      alice.request(UnregisterPushSubscriptionDocument, { endpoint }),
    );
    expect(unregisterPushSubscription).toBe(true);
  });

  it('uploads an image step by step, watches it become READY, makes it an avatar, reprocesses and deletes it', async () => {
    const body = pngImage(400, 300);
    const { createImageUpload: upload } = await run(
      'CreateImageUpload',
      alice.request(CreateImageUploadDocument, {
        input: { filename: 'banner.png', contentType: 'image/png', byteSize: body.length },
      }),
    );
    expect(upload.image.status).toBe('AWAITING_UPLOAD');
    ran.add('ImageUpdated');
    const updates = collect(alice.subscribe(ImageUpdatedDocument, { id: upload.uploadId }));
    await eventually(() => system.harness.subscribers(system.media.imageChannel(upload.uploadId)), {
      what: 'imageUpdated to go live',
    });
    const put = await fetch(upload.uploadUrl, {
      method: upload.method,
      headers: upload.headers as Record<string, string>,
      body: new Uint8Array(body),
    });
    expect(put.status).toBe(200);
    const { completeImageUpload } = await run(
      'CompleteImageUpload',
      alice.request(CompleteImageUploadDocument, { uploadId: upload.uploadId }),
    );
    expect(completeImageUpload.status).toBe('PROCESSING');
    const ready = await eventually(
      () => updates.events.find((e) => e.imageUpdated.status === 'READY')?.imageUpdated,
      { what: () => `READY from imageUpdated; got ${JSON.stringify(updates.events)}` },
    );
    expect(ready).toMatchObject({ width: 400, height: 300 });
    await updates.stop();

    const { image } = await run('Image', bob.request(ImageDocument, { id: upload.uploadId }));
    expect(image?.status).toBe('READY');

    const { setAvatar } = await run(
      'SetAvatar',
      alice.request(SetAvatarDocument, { imageId: upload.uploadId }),
    );
    expect(setAvatar.avatar?.id).toBe(upload.uploadId);

    const admin = clients.create().client;
    const adminUser = await system.makeAdmin();
    await admin.session.signIn(adminUser.email, adminUser.password);
    const { reprocessImage } = await run(
      'ReprocessImage',
      admin.request(ReprocessImageDocument, { id: upload.uploadId }),
    );
    expect(reprocessImage.id).toBe(upload.uploadId);
    await eventually(
      async () =>
        (await alice.request(ImageDocument, { id: upload.uploadId })).image?.status === 'READY',
      { what: 'the reprocessed image to be READY again' },
    );

    expect(
      await run('DeleteImage', alice.request(DeleteImageDocument, { id: upload.uploadId })),
    ).toEqual({ deleteImage: true });
    expect((await bob.request(ImageDocument, { id: upload.uploadId })).image).toBeNull();
  });

  it('lets an admin grant PARTNER, and a partner create, use and revoke an API client', async () => {
    const admin = clients.create().client;
    const adminUser = await system.makeAdmin();
    await admin.session.signIn(adminUser.email, adminUser.password);
    const { grantRole } = await run(
      'GrantRole',
      admin.request(GrantRoleDocument, { userId: aliceSession.user.id, role: 'PARTNER' }),
    );
    expect(grantRole.roles).toContain('PARTNER');

    // The role is in alice's tokens from the next refresh on.
    await alice.session.refresh();
    const { createApiClient: apiClient } = await run(
      'CreateApiClient',
      alice.request(CreateApiClientDocument, { name: 'Stats exporter', scopes: ['read'] }),
    );
    expect(apiClient).toMatchObject({ name: 'Stats exporter', scopes: ['read'] });

    const { issueClientToken } = await run(
      'IssueClientToken',
      clients.create().client.request(IssueClientTokenDocument, {
        clientId: apiClient.clientId,
        clientSecret: apiClient.clientSecret,
      }),
    );
    expect(issueClientToken.user.id).toBe(aliceSession.user.id);

    expect(
      await run(
        'RevokeApiClient',
        alice.request(RevokeApiClientDocument, { clientId: apiClient.clientId }),
      ),
    ).toEqual({ revokeApiClient: true });
  });

  it('has run every operation the SDK ships', () => {
    const shipped = shippedOperations();
    expect(shipped.length).toBeGreaterThan(30);
    expect(shipped.filter((name) => !ran.has(name))).toEqual([]);
  });
});
