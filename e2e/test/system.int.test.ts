import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complete, createUpload, image, putUpload } from '@arcadia/media/testing';
import { eventually } from '@arcadia/testing';
import { pngImage } from '../src/images.js';
import { startSystem, type ArcadiaSystem } from '../src/system.js';

describe('the whole system started in process', () => {
  let system: ArcadiaSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(() => system?.stop());

  it('serves every domain through one router URL', async () => {
    const alice = await system.signUp();
    const bob = await system.signUp();
    const res = await system.harness.request<{
      me: { id: string; avatar: null };
      startConversation: { id: string; members: { id: string }[] };
    }>('mutation ($bob: ID!) { startConversation(memberIds: [$bob]) { id members { id } } }', {
      token: alice.token,
      variables: { bob: bob.id },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.startConversation.members.map((m) => m.id).sort()).toEqual(
      [alice.id, bob.id].sort(),
    );
    const me = await system.harness.request<{ me: { id: string; avatar: null } }>(
      '{ me { id avatar { id } } }',
      { token: alice.token },
    );
    expect(me.data?.me).toEqual({ id: alice.id, avatar: null });
  });

  it('makes users with roles whose tokens carry them', async () => {
    const admin = await system.makeAdmin();
    const res = await system.harness.request<{ me: { roles: string[] } }>('{ me { roles } }', {
      token: admin.token,
    });
    expect(res.data?.me.roles).toContain('ADMIN');
  });

  it('turns an image PUT from Node to the presigned URL into a READY image with WebP variants', async () => {
    const alice = await system.signUp();
    const body = pngImage(320, 200);
    const upload = await createUpload(system.harness, alice, {
      filename: 'e2e.png',
      contentType: 'image/png',
      byteSize: body.length,
    });
    expect(new URL(upload.uploadUrl).origin).toBe(new URL(system.media.config.S3_ENDPOINT).origin);
    expect(await putUpload(upload, body)).toBe(200);
    const completed = await complete(system.harness, alice, upload.uploadId);
    expect(completed.errors).toBeUndefined();
    const ready = await eventually(
      async () => {
        const current = await image(system.harness, upload.uploadId, alice);
        return current?.status === 'READY' && current;
      },
      { what: 'the image to become READY (is the media worker running?)' },
    );
    expect(ready.variants.map((v) => [v.name, v.format])).toEqual(
      expect.arrayContaining([
        ['THUMBNAIL', 'webp'],
        ['MEDIUM', 'webp'],
        ['LARGE', 'webp'],
      ]),
    );
    const variant = await fetch(ready.variants[0]!.url);
    expect(variant.status).toBe(200);
    expect(variant.headers.get('content-type')).toBe('image/webp');
  });

  it('drops the router’s WebSocket connections at the TCP level', async () => {
    const alice = await system.signUp();
    const socket = new WebSocket(system.wsUrl, 'graphql-transport-ws');
    const messages: string[] = [];
    // Text frames arrive as a Buffer.
    socket.on('message', (data) => messages.push(Buffer.from(data as Buffer).toString('utf8')));
    const closed = new Promise<number>((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${alice.token}` },
      }),
    );
    await eventually(() => messages.some((m) => m.includes('connection_ack')), {
      what: () => `connection_ack; got ${JSON.stringify(messages)}`,
    });
    expect(system.openSockets()).toBe(1);
    expect(system.dropSockets()).toBe(1);
    // 1006: closed without a close frame, as when a network goes away.
    expect(await closed).toBe(1006);
    expect(system.openSockets()).toBe(0);
  });
});
