/**
 * Headless Chromium for browser tests: Debian's `chromium` package (installed
 * by `scripts/ensure-chromium.sh`, which `npm test` runs) driven by
 * playwright-core, so no browser is downloaded from Playwright's CDN.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type LaunchOptions, type Page } from 'playwright-core';

/** Where the browser is, unless `CHROMIUM_PATH` says otherwise. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** Where {@link saveScreenshot} writes: `e2e/artifacts/` (ignored by git). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url));

/**
 * Launches headless Chromium (`CHROMIUM_PATH`, else /usr/bin/chromium).
 * Without the sandbox: Chromium refuses to start sandboxed as root, which CI
 * containers and this machine are. `options` are passed to Playwright's
 * `chromium.launch` (e.g. `{ headless: false, slowMo: 200 }` to watch).
 * Close the browser in `afterAll`.
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
  try {
    return await chromium.launch({
      executablePath,
      headless: true,
      chromiumSandbox: false,
      ...options,
      args: ['--no-sandbox', '--disable-gpu', ...(options.args ?? [])],
    });
  } catch (error) {
    throw new Error(
      `Chromium did not start from ${executablePath} ` +
        '(run `bash scripts/ensure-chromium.sh`, or set CHROMIUM_PATH)',
      { cause: error },
    );
  }
}

/**
 * Writes a full-page screenshot of `page` to `e2e/artifacts/<name>.png` and
 * resolves to its path; `name` may contain `/` for sub-folders.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  if (!file.startsWith(ARTIFACTS_DIR)) throw new Error(`screenshot name ${name} leaves artifacts/`);
  await mkdir(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Records what goes wrong in `page` from now on: uncaught errors and
 * `console.error` messages, as text, in the returned array (the array keeps
 * filling as the page runs). A test ends with `expect(problems).toEqual([])`.
 */
export function recordPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  return problems;
}
