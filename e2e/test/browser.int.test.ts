import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordPageProblems, saveScreenshot } from '../src/browser.js';

describe('headless Chromium for browser tests', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(
        `<!doctype html><title>probe</title><h1>Hello from ${request.url}</h1>` +
          `<script>document.body.dataset.ready = String(1 + 1)</script>`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('opens a page served on a free port, runs its script and reads its text back', async () => {
    const page = await browser.newPage();
    const problems = recordPageProblems(page);
    await page.goto(`${origin}/greeting`);
    expect(await page.locator('h1').textContent()).toBe('Hello from /greeting');
    expect(await page.locator('body').getAttribute('data-ready')).toBe('2');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('records errors the page throws', async () => {
    const page = await browser.newPage();
    const problems = recordPageProblems(page);
    await page.goto('data:text/html,<script>throw new Error("boom")</script>');
    await expect.poll(() => problems).toEqual([expect.stringContaining('boom')]);
    await page.close();
  });

  it('writes a screenshot to e2e/artifacts', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/screenshot`);
    const file = await saveScreenshot(page, 'browser-probe');
    expect(file).toMatch(/e2e\/artifacts\/browser-probe\.png$/);
    expect((await stat(file)).size).toBeGreaterThan(100);
    await page.close();
  });
});
