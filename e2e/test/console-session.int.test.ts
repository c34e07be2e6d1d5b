import { print } from 'graphql';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SendMessageDocument,
  SignInDocument,
  SignOutDocument,
  type SendMessageMutation,
  type SignInMutation,
  type StoredSession,
} from '@arcadia/sdk';
import { launchChromium } from '../src/browser.js';
import { startSystem, type ArcadiaSystem, type SystemUser } from '../src/system.js';
import {
  messageItem,
  openConversationWith,
  sendMessage,
  shows,
  signInPerson,
  startConsole,
  type ConsoleServer,
} from './console-fixtures.js';

/** Access tokens live this long here, so the console must refresh during a test. */
const ACCESS_TOKEN_TTL_SECONDS = 15;

/** The session the SDK keeps in the page's localStorage. */
function storedSession(page: Page): Promise<StoredSession | null> {
  return page.evaluate(() => {
    const raw = localStorage.getItem('arcadia.session');
    return raw ? (JSON.parse(raw) as StoredSession) : null;
  });
}

describe('the web console: sessions', () => {
  let system: ArcadiaSystem;
  let web: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    system = await startSystem({
      accountsEnv: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) },
    });
    web = await startConsole(system.url);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await system?.stop();
  });

  /** A fresh access token for `user` (the one from sign-up expires within the test). */
  async function tokenOf(user: SystemUser): Promise<string> {
    const result = await system.harness.request<SignInMutation>(print(SignInDocument), {
      variables: { email: user.email, password: user.password },
    });
    return result.data!.signIn.accessToken;
  }

  it('keeps working after the access token expires, live and across a reload, without signing in again', async () => {
    const [novaUser, kaiUser] = await Promise.all([
      system.signUp({ prefix: 'nova' }),
      system.signUp({ prefix: 'kai' }),
    ]);
    const nova = await signInPerson(browser, web.origin, novaUser);
    const { page } = nova;
    await openConversationWith(page, kaiUser);
    await sendMessage(page, 'before expiry');
    await shows(
      messageItem(page, 'before expiry').getByRole('img', { name: /Sent|Delivered|Read/ }),
      'the first message sent',
    );
    const first = (await storedSession(page))!;

    // Nothing to do until the first access token is over: the router closes
    // the socket then ("Token expired"), the SDK refreshes and reconnects.
    await expect
      .poll(() => Date.now() > Date.parse(first.expiresAt) + 1000, {
        message: 'the first access token expiring',
        timeout: (ACCESS_TOKEN_TTL_SECONDS + 10) * 1000,
        interval: 500,
      })
      .toBe(true);

    // Live events still arrive…
    const conversationId = page.url().split('/chat/')[1]!;
    const kaiToken = await tokenOf(kaiUser);
    const sent = await system.harness.request<SendMessageMutation>(print(SendMessageDocument), {
      variables: { conversationId, text: 'after expiry, live', clientMessageId: 'kai-live-1' },
      token: kaiToken,
    });
    expect(sent.errors).toBeUndefined();
    await shows(messageItem(page, 'after expiry, live'), 'a live message after the token expired');

    // …requests work, on a refreshed session.
    await sendMessage(page, 'after expiry, sent');
    await shows(
      messageItem(page, 'after expiry, sent').getByRole('img', { name: /Sent|Delivered|Read/ }),
      'a message sent after the token expired',
    );
    const refreshed = (await storedSession(page))!;
    expect(refreshed.accessToken).not.toBe(first.accessToken);
    expect(refreshed.refreshToken).not.toBe(first.refreshToken);
    expect(page.url()).toContain('/chat/');

    // A reload keeps the session (localStorage) and the conversation.
    await page.reload();
    await shows(messageItem(page, 'after expiry, sent'), 'the conversation after a reload');
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(0);
    await shows(page.getByRole('button', { name: 'Sign out' }), 'still signed in after a reload');
    expect(nova.problems).toEqual([]);
    await nova.context.close();
  });

  it('signs out to the sign-in page, which says so, and stays signed out after a reload', async () => {
    const user = await system.signUp({ prefix: 'leaver' });
    const person = await signInPerson(browser, web.origin, user);
    const { page } = person;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await shows(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in page');
    await shows(
      page.getByRole('status').getByText('You have signed out.'),
      'the signed-out notice',
    );
    expect(await storedSession(page)).toBeNull();

    await page.reload();
    await shows(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in page after a reload');
    await page.goto(`${web.origin}/profile`);
    await shows(page.getByRole('heading', { name: 'Sign in' }), 'sign-in instead of the profile');
    expect(person.problems).toEqual([]);
    await person.context.close();
  });

  it('takes the person to sign-in with a message when the session is ended elsewhere', async () => {
    const user = await system.signUp({ prefix: 'revoked' });
    const person = await signInPerson(browser, web.origin, user);
    const { page } = person;
    await shows(page.getByRole('heading', { name: 'Your conversations' }), 'the chat page');
    const session = (await storedSession(page))!;

    // "Sign out everywhere" from another device: the same session ends on the server.
    const signedOut = await system.harness.request(print(SignOutDocument), {
      token: session.accessToken,
    });
    expect(signedOut.errors).toBeUndefined();

    await shows(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in page', 30_000);
    await shows(
      page.getByRole('status').getByText(/session was ended/),
      'the notice that the session ended elsewhere',
    );
    expect(await storedSession(page)).toBeNull();
    expect(person.problems).toEqual([]);
    await person.context.close();
  });
});
