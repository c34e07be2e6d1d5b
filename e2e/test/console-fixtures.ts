/**
 * The web console (apps/console) served by Vite's dev server against a
 * running system, and what its browser tests do through its UI.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { recordPageProblems } from '../src/browser.js';
import type { SystemUser } from '../src/system.js';

const CONSOLE_ROOT = fileURLToPath(new URL('../../apps/console/', import.meta.url));

/** How long UI waits may take: a first page load compiles modules on demand. */
export const UI_TIMEOUT_MS = 20_000;

/** The console's dev server. */
export interface ConsoleServer {
  /** e.g. http://localhost:51234 */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves the console with its own Vite config, on a free port, talking to
 * `apiUrl`. Each server pre-bundles into a cache folder of its own, so test
 * files running side by side do not rewrite each other's.
 */
export async function startConsole(apiUrl: string): Promise<ConsoleServer> {
  const cacheDir = path.join(
    CONSOLE_ROOT,
    'node_modules',
    `.vite-e2e-${randomBytes(4).toString('hex')}`,
  );
  const server: ViteDevServer = await createServer({
    root: CONSOLE_ROOT,
    configFile: path.join(CONSOLE_ROOT, 'vite.config.ts'),
    cacheDir,
    logLevel: 'warn',
    clearScreen: false,
    define: { 'import.meta.env.VITE_ARCADIA_URL': JSON.stringify(apiUrl) },
    server: { host: 'localhost', port: 0, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();
  const { port } = server.httpServer!.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    async close() {
      await server.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** Waits until `locator` is visible, failing with `what` (not only a selector) when it is not. */
export async function shows(
  locator: Locator,
  what: string,
  timeout = UI_TIMEOUT_MS,
): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch (error) {
    throw new Error(`expected the page to show ${what} within ${timeout} ms`, { cause: error });
  }
}

/** Waits until `locator` matches nothing visible. */
export async function hides(
  locator: Locator,
  what: string,
  timeout = UI_TIMEOUT_MS,
): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'hidden', timeout });
  } catch (error) {
    throw new Error(`expected the page to stop showing ${what} within ${timeout} ms`, {
      cause: error,
    });
  }
}

/** Who signs in: a user made by the system, or one signed up through the console. */
export type ConsoleUser = Pick<SystemUser, 'handle' | 'displayName' | 'email' | 'password'>;

/** A browser context (its own storage: one person) with a page, and that page's problems. */
export interface Person {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly problems: string[];
  readonly user: ConsoleUser;
}

/** A phone's viewport (the console's one-column layout). */
export const PHONE = { width: 390, height: 844 };
/** A laptop's viewport. */
export const LAPTOP = { width: 1280, height: 800 };

/** A new person (browser context) on the console's sign-in page. */
export async function openConsole(
  browser: Browser,
  origin: string,
  path = '/sign-in',
  viewport = LAPTOP,
): Promise<Omit<Person, 'user'>> {
  const context = await browser.newContext({ viewport });
  // Playwright waits without end by default; a stuck action fails with its own message instead.
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  const problems = recordPageProblems(page);
  await page.goto(`${origin}${path}`);
  return { context, page, problems };
}

/** A handle no other test run has (handles are 3–24 letters, digits or underscores). */
export function uniqueHandle(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Signs a new person up through the console's sign-up form. */
export async function signUpPerson(
  browser: Browser,
  origin: string,
  wanted: { handlePrefix: string; displayName: string },
  viewport = LAPTOP,
): Promise<Person> {
  const opened = await openConsole(browser, origin, '/sign-up', viewport);
  const handle = uniqueHandle(wanted.handlePrefix);
  const user: ConsoleUser = {
    handle,
    displayName: wanted.displayName,
    email: `${handle}@example.com`,
    password: 'correct horse battery staple',
  };
  const { page } = opened;
  await shows(page.getByRole('heading', { name: 'Create your account' }), 'the sign-up form');
  await page.getByLabel('Handle').fill(user.handle);
  await page.getByLabel('Display name').fill(user.displayName);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await shows(page.getByRole('button', { name: 'Sign out' }), `${handle} signed up and in`);
  return { ...opened, user };
}

/** Opens a new context at the console's sign-in page and signs `user` in through the form. */
export async function signInPerson(
  browser: Browser,
  origin: string,
  user: ConsoleUser,
  viewport = LAPTOP,
): Promise<Person> {
  const opened = await openConsole(browser, origin, '/sign-in', viewport);
  await signInThroughForm(opened.page, user);
  return { ...opened, user };
}

/** Fills the sign-in form and waits for the signed-in frame. */
export async function signInThroughForm(page: Page, user: ConsoleUser): Promise<void> {
  await shows(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in form');
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await shows(page.getByRole('button', { name: 'Sign out' }), `${user.handle} signed in`);
}

/** Starts (or opens) the direct conversation with `other` from the chat page. */
export async function openConversationWith(page: Page, other: ConsoleUser): Promise<void> {
  await page.getByRole('link', { name: 'Chat', exact: true }).click();
  await page.getByLabel('Handle').fill(other.handle);
  await page.getByRole('button', { name: 'Start' }).click();
  await shows(
    page.getByRole('heading', { level: 1, name: other.displayName }),
    `the conversation with ${other.displayName}`,
  );
}

/** Types into the composer and sends with Enter. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const composer = page.getByRole('textbox', { name: 'Message' });
  await composer.fill(text);
  await composer.press('Enter');
}

/** The conversation list's link to the conversation named `name`. */
export function conversationLink(page: Page, name: string): Locator {
  return page
    .getByRole('complementary', { name: 'Conversations' })
    .getByRole('link', { name: new RegExp(name) });
}

/** Page problems other than the network failures a test causes on purpose (offline). */
export function unexpectedProblems(problems: readonly string[]): string[] {
  return problems.filter(
    (p) => !/ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|WebSocket connection to/.test(p),
  );
}

/** The list item of the message whose text is exactly `text`. */
export function messageItem(page: Page, text: string): Locator {
  return page
    .getByRole('log')
    .getByRole('listitem')
    .filter({ has: page.getByText(text, { exact: true }) });
}
