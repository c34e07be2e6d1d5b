import { print } from 'graphql';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SendMessageDocument,
  StartConversationDocument,
  UserByHandleDocument,
  type SendMessageMutation,
  type StartConversationMutation,
  type UserByHandleQuery,
} from '@arcadia/sdk';
import { launchChromium, saveScreenshot } from '../src/browser.js';
import { startSystem, type ArcadiaSystem } from '../src/system.js';
import {
  conversationLink,
  hides,
  messageItem,
  openConversationWith,
  PHONE,
  sendMessage,
  shows,
  signInPerson,
  signUpPerson,
  startConsole,
  unexpectedProblems,
  type ConsoleServer,
  type Person,
} from './console-fixtures.js';

describe('the web console: chat', () => {
  let system: ArcadiaSystem;
  let web: ConsoleServer;
  let browser: Browser;
  let a: Person; // Nova
  let b: Person; // Kai

  beforeAll(async () => {
    system = await startSystem();
    web = await startConsole(system.url);
    browser = await launchChromium();
    [a, b] = await Promise.all([
      signUpPerson(browser, web.origin, { handlePrefix: 'nova', displayName: 'Nova Quinn' }),
      signUpPerson(browser, web.origin, { handlePrefix: 'kai', displayName: 'Kai Moreno' }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await system?.stop();
  });

  async function userId(handle: string): Promise<string> {
    const result = await system.harness.request<UserByHandleQuery>(print(UserByHandleDocument), {
      variables: { handle },
    });
    return result.data!.userByHandle!.id;
  }

  it('delivers a message live, shows typing, and ticks read once the other reads it', async () => {
    await openConversationWith(a.page, b.user);
    await sendMessage(a.page, 'Hey Kai! Up for a match tonight?');
    await shows(messageItem(a.page, 'Hey Kai! Up for a match tonight?'), "Nova's own message");
    // The message reached the API: the pending mark gave way to a receipt.
    await shows(
      messageItem(a.page, 'Hey Kai! Up for a match tonight?').getByRole('img', {
        name: /^(Sent|Delivered|Read)$/,
      }),
      'a receipt on the sent message',
    );

    // Kai sees the new conversation with an unread badge, then opens it.
    await shows(
      conversationLink(b.page, 'Nova Quinn').getByText('unread'),
      'an unread badge on the new conversation',
    );
    await conversationLink(b.page, 'Nova Quinn').click();
    await shows(messageItem(b.page, 'Hey Kai! Up for a match tonight?'), 'the message for Kai');
    await hides(conversationLink(b.page, 'Nova Quinn').getByText('unread'), 'the unread badge');

    // Kai has the conversation open and the tab visible: Nova's message is read.
    await shows(
      messageItem(a.page, 'Hey Kai! Up for a match tonight?').getByRole('img', { name: 'Read' }),
      'the read tick on Nova’s message',
    );

    // Kai types: Nova sees it; Kai's message ends the notice.
    const composer = b.page.getByRole('textbox', { name: 'Message' });
    await composer.pressSequentially('Sure, 8pm?');
    await shows(a.page.getByText('Kai Moreno is typing…'), 'the typing notice');
    await composer.press('Enter');
    await shows(messageItem(a.page, 'Sure, 8pm?'), 'Kai’s reply on Nova’s side');
    await hides(a.page.getByText('Kai Moreno is typing…'), 'the typing notice after the reply');

    await sendMessage(a.page, 'Perfect. Bring your A game!');
    await shows(messageItem(b.page, 'Perfect. Bring your A game!'), 'Nova’s second message');
    // The API takes one typing notice per 3 s: Kai keeps typing until one gets through.
    await expect
      .poll(
        async () => {
          await composer.press('a');
          return a.page.getByText('Kai Moreno is typing…').isVisible();
        },
        { message: 'the typing notice again', timeout: 15_000, interval: 500 },
      )
      .toBe(true);
    await saveScreenshot(a.page, 'console-chat');
    await composer.fill('');

    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it('edits and deletes one’s own messages, with Escape cancelling an edit', async () => {
    await sendMessage(a.page, 'See you at 9');
    const mine = messageItem(a.page, 'See you at 9');
    await shows(mine.getByRole('button', { name: 'Edit' }), 'the edit button');

    // Escape leaves the message as it was.
    await mine.getByRole('button', { name: 'Edit' }).click();
    const editor = a.page.getByRole('textbox', { name: 'Edit message' });
    await editor.fill('Never mind');
    await editor.press('Escape');
    await hides(editor, 'the editor after Escape');
    await shows(messageItem(a.page, 'See you at 9'), 'the unchanged message');

    // Enter saves; Kai sees the new text, marked edited.
    await messageItem(a.page, 'See you at 9').getByRole('button', { name: 'Edit' }).click();
    await editor.fill('See you at 8');
    await editor.press('Enter');
    await shows(messageItem(b.page, 'See you at 8'), 'the edited text on Kai’s side');
    await shows(messageItem(b.page, 'See you at 8').getByText('edited'), 'the edited mark');
    expect(await messageItem(b.page, 'See you at 9').count()).toBe(0);

    // Delete asks first, then removes the text for everyone.
    await messageItem(a.page, 'See you at 8').getByRole('button', { name: 'Delete' }).click();
    await a.page
      .getByRole('group', { name: 'Delete this message?' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await hides(messageItem(b.page, 'See you at 8'), 'the deleted message’s text on Kai’s side');
    await shows(
      b.page.getByRole('log').getByText('This message was deleted.'),
      'the deleted placeholder',
    );
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it('loads older history when scrolled to the top, each message once', async () => {
    const mira = await system.signUp({ prefix: 'mira' });
    const novaId = await userId(a.user.handle);
    const started = await system.harness.request<StartConversationMutation>(
      print(StartConversationDocument),
      { variables: { memberIds: [novaId] }, token: mira.token },
    );
    const conversationId = started.data!.startConversation.id;
    const total = 45;
    for (let i = 1; i <= total; i++) {
      const sent = await system.harness.request<SendMessageMutation>(print(SendMessageDocument), {
        variables: { conversationId, text: `History ${i}`, clientMessageId: `history-${i}` },
        token: mira.token,
      });
      expect(sent.errors).toBeUndefined();
    }

    // The conversation arrived live, with its unread count.
    await expect
      .poll(() => conversationLink(a.page, mira.displayName).textContent(), {
        message: 'the new conversation with 45 unread',
        timeout: 20_000,
      })
      .toContain(`${total} unread`);
    await conversationLink(a.page, mira.displayName).click();
    await shows(messageItem(a.page, `History ${total}`), 'the newest message');
    const items = a.page.getByRole('log').getByRole('listitem');
    expect(await items.count()).toBeLessThan(total);
    expect(await messageItem(a.page, 'History 1').count()).toBe(0);

    // Scrolling to the top loads the rest, page by page.
    await expect
      .poll(
        async () => {
          await a.page.getByRole('log').evaluate((log) => log.parentElement!.scrollTo({ top: 0 }));
          return messageItem(a.page, 'History 1').count();
        },
        { message: 'the oldest message after scrolling up', timeout: 20_000 },
      )
      .toBe(1);
    await expect.poll(() => items.count(), { message: 'every message once' }).toBe(total);
    expect(await a.page.getByRole('button', { name: 'Load older messages' }).count()).toBe(0);
    expect(a.problems).toEqual([]);
  });

  it('catches up after the connection drops: what was sent meanwhile appears exactly once', async () => {
    await conversationLink(a.page, 'Kai Moreno').click();
    await shows(messageItem(a.page, 'Sure, 8pm?'), 'the conversation with Kai');
    await shows(
      conversationLink(b.page, 'Nova Quinn').and(b.page.locator('[aria-current="page"]')),
      'Kai still in the conversation',
    );

    // Nova's network goes; the router's sockets are cut as a network would.
    await a.context.setOffline(true);
    expect(system.dropSockets()).toBeGreaterThan(0);
    await shows(a.page.getByText(/Reconnecting…/), 'the reconnecting banner');

    await sendMessage(b.page, 'Are you there?');
    await sendMessage(b.page, 'Lobby is open');
    await shows(
      messageItem(b.page, 'Lobby is open').getByRole('img', { name: /Sent|Delivered/ }),
      'Kai’s messages sent',
    );
    await sendMessage(a.page, 'Typed while offline');
    await shows(messageItem(a.page, 'Typed while offline'), 'Nova’s pending message');

    await a.context.setOffline(false);
    await hides(a.page.getByText(/Reconnecting…/), 'the reconnecting banner once back online');
    await shows(messageItem(a.page, 'Lobby is open'), 'a message sent while Nova was offline');
    await shows(messageItem(b.page, 'Typed while offline'), 'Nova’s offline message on Kai’s side');
    for (const [page, text] of [
      [a.page, 'Are you there?'],
      [a.page, 'Lobby is open'],
      [a.page, 'Typed while offline'],
      [b.page, 'Typed while offline'],
    ] as const) {
      await expect
        .poll(() => messageItem(page, text).count(), { message: `“${text}” exactly once` })
        .toBe(1);
    }
    // Still live afterwards.
    await sendMessage(b.page, 'Back in business');
    await shows(messageItem(a.page, 'Back in business'), 'a live message after reconnecting');
    expect(unexpectedProblems(a.problems)).toEqual([]);
    expect(unexpectedProblems(b.problems)).toEqual([]);
  });

  it('shows the list or the conversation, one at a time, on a phone', async () => {
    const phone = await signInPerson(browser, web.origin, a.user, PHONE);
    const { page } = phone;
    await shows(conversationLink(page, 'Kai Moreno'), 'the conversation list');
    expect(await page.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    await saveScreenshot(page, 'console-chat-phone-list');

    await conversationLink(page, 'Kai Moreno').click();
    await shows(messageItem(page, 'Sure, 8pm?'), 'the conversation');
    await hides(page.getByRole('heading', { name: 'New conversation' }), 'the list beside it');
    await saveScreenshot(page, 'console-chat-phone');

    await page.getByRole('link', { name: 'Conversations' }).click();
    await shows(conversationLink(page, 'Kai Moreno'), 'the list again');
    expect(phone.problems).toEqual([]);
    await phone.context.close();
  });
});
