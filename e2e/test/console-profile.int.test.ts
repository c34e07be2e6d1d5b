import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, saveScreenshot } from '../src/browser.js';
import { pngImage } from '../src/images.js';
import { startSystem, type ArcadiaSystem } from '../src/system.js';
import {
  openConsole,
  shows,
  signUpPerson,
  startConsole,
  uniqueHandle,
  type ConsoleServer,
} from './console-fixtures.js';

describe('the web console: accounts and profile', () => {
  let system: ArcadiaSystem;
  let web: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    // A low failure limit, so the rate limit is reached in a few tries.
    system = await startSystem({ accountsEnv: { SIGN_IN_MAX_FAILURES: '3' } });
    web = await startConsole(system.url);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await system?.stop();
  });

  it('shows the API’s validation and conflict errors next to their fields on sign-up', async () => {
    const taken = await system.signUp({ prefix: 'taken' });
    const { page, problems, context } = await openConsole(browser, web.origin, '/sign-up');
    const handle = page.getByLabel('Handle');
    const password = page.getByLabel('Password');
    const submit = page.getByRole('button', { name: 'Create account' });

    // A handle that is already someone's: CONFLICT, on the handle field.
    await handle.fill(taken.handle.toUpperCase());
    await page.getByLabel('Display name').fill('Second Taker');
    await page.getByLabel('Email').fill(`${uniqueHandle('fresh')}@example.com`);
    await password.fill('correct horse battery staple');
    await submit.click();
    await shows(page.getByText('That handle is already taken.'), 'the taken-handle error');
    await expect.poll(() => handle.getAttribute('aria-invalid')).toBe('true');
    expect(await handle.evaluate((input) => input === document.activeElement)).toBe(true);
    expect(await password.getAttribute('aria-invalid')).toBeNull();

    // A short password: BAD_USER_INPUT naming the password field.
    await handle.fill(uniqueHandle('fresh'));
    await password.fill('short');
    await submit.click();
    await expect
      .poll(() => password.getAttribute('aria-invalid'), {
        message: 'the password field marked invalid',
      })
      .toBe('true');
    const describedBy = (await password.getAttribute('aria-describedby'))!.split(' ');
    const errorText = await page.locator(`[id="${describedBy.at(-1)}"]`).textContent();
    expect(errorText).toMatch(/10|characters|password/i);
    expect(await handle.getAttribute('aria-invalid')).toBeNull();

    await password.fill('correct horse battery staple');
    await submit.click();
    await shows(page.getByRole('button', { name: 'Sign out' }), 'the signed-in console');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('says when to try again after too many failed sign-ins', async () => {
    const user = await system.signUp({ prefix: 'forgetful' });
    const { page, problems, context } = await openConsole(browser, web.origin, '/sign-in');
    await shows(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in form');
    await saveScreenshot(page, 'console-sign-in');

    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await shows(
      page.getByRole('alert').getByText('That email and password do not match an account.'),
      'the wrong-password message',
    );
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('button', { name: 'Sign in' }).waitFor();
          return page.getByRole('alert').textContent();
        },
        { message: 'the rate-limit message with the wait', timeout: 15_000, interval: 300 },
      )
      .toMatch(/Too many sign-in attempts\. Try again in \d+ s\./);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('uploads an avatar with a progress bar, then shows the READY thumbnail and uses it', async () => {
    const person = await signUpPerson(browser, web.origin, {
      handlePrefix: 'nova',
      displayName: 'Nova Quinn',
    });
    const { page } = person;
    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    await shows(page.getByRole('heading', { name: 'Nova Quinn' }), 'the profile');

    // Slow uploads down so the progress bar has something to show.
    const cdp = await person.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 400 * 1024,
    });
    const image = pngImage(800, 800);
    await page.getByLabel('Choose an image').setInputFiles({
      name: 'nova.png',
      mimeType: 'image/png',
      buffer: image,
    });
    const progress = page.getByRole('progressbar', { name: 'Upload progress' });
    await expect
      .poll(
        async () =>
          Number((await progress.getAttribute('value', { timeout: 100 }).catch(() => null)) ?? -1),
        {
          message: 'the progress bar part-way through the upload',
          timeout: 15_000,
          interval: 50,
        },
      )
      .toSatisfy((value: number) => value > 0 && value < 100);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });

    const thumbnail = page.getByRole('img', { name: 'New avatar thumbnail' });
    await shows(thumbnail, 'the READY thumbnail', 60_000);
    await expect
      .poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), {
        message: 'the thumbnail image loaded',
      })
      .toBe(100);
    await shows(page.getByText('Your new avatar is set.'), 'the avatar set');
    const url = await thumbnail.getAttribute('src');
    expect(await page.getByRole('img', { name: "Nova Quinn's avatar" }).getAttribute('src')).toBe(
      url,
    );

    // It is the account's avatar now: still there after a reload.
    await page.reload();
    await expect
      .poll(() => page.getByRole('img', { name: "Nova Quinn's avatar" }).getAttribute('src'), {
        message: 'the new avatar after a reload',
      })
      .toBe(url);
    await expect
      .poll(() => page.getByRole('banner').locator('img').getAttribute('src'), {
        message: 'the new avatar in the top bar',
      })
      .toBe(url);
    await saveScreenshot(page, 'console-profile');
    expect(person.problems).toEqual([]);
    await person.context.close();
  }, 120_000);
});
