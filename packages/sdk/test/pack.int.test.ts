/**
 * `npm run pack -w @arcadia/sdk` makes a tarball a partner studio can use
 * outside the monorepo: installed into an empty project (its dependencies
 * from the npm cache or registry), the published declarations type-check a
 * partner's code — and reject a wrong call, so the check is real — and plain
 * Node imports the compiled package without TypeScript or workspace sources.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const sdkManifest = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { name: string; version: string };
/** The repository's TypeScript, the one partners are told to use (5.x, nodenext). */
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const scratch = mkdtempSync(join(tmpdir(), 'arcadia-sdk-pack-'));
const out = join(scratch, 'out');
/** An empty partner project, outside the monorepo. */
const project = join(scratch, 'partner');
const tarball = join(out, `arcadia-sdk-${sdkManifest.version}.tgz`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What a partner studio writes: typed requests, a subscription and typed errors. */
const EXAMPLE = `
import {
  ChatEventsDocument,
  MeDocument,
  SendMessageDocument,
  SignInDocument,
  createArcadiaClient,
  isArcadiaError,
  memorySessionStorage,
  type ArcadiaClient,
  type StoredSession,
} from '@arcadia/sdk';

const url = 'https://arcadia.example/graphql';

/** The studio's backend, signed in as its API client. */
export function studioClient(clientId: string, clientSecret: string): ArcadiaClient {
  return createArcadiaClient({
    url,
    auth: { kind: 'clientCredentials', clientId, clientSecret },
    headers: { 'x-client-name': 'partner-studio' },
  });
}

export async function accessToken(client: ArcadiaClient, email: string, password: string): Promise<string> {
  const { signIn } = await client.request(SignInDocument, { email, password });
  return signIn.accessToken;
}

export async function play(email: string, password: string): Promise<string> {
  const client = createArcadiaClient({ url, auth: { kind: 'session', storage: memorySessionStorage() } });
  const stop = client.on('signedOut', ({ reason }) => console.warn(\`signed out: \${reason}\`));
  try {
    const session: StoredSession = await client.session.signIn(email, password);
    const { me } = await client.request(MeDocument);
    const { sendMessage } = await client.request(SendMessageDocument, {
      conversationId: 'c1',
      text: 'gg',
      clientMessageId: crypto.randomUUID(),
    });
    for await (const { chatEvents } of client.subscribe(ChatEventsDocument)) {
      if (chatEvents.__typename === 'MessageAdded' && chatEvents.message.id !== sendMessage.id)
        return \`\${me?.displayName ?? session.user.handle} read \${chatEvents.message.sender.displayName}: \${chatEvents.message.text}\`;
    }
    return sendMessage.createdAt;
  } catch (error) {
    if (isArcadiaError(error, 'RATE_LIMITED')) {
      const seconds: number = error.first.retryAfterSeconds;
      return \`try again in \${seconds} s\`;
    }
    if (isArcadiaError(error, 'BAD_USER_INPUT')) return \`check \${error.first.field ?? 'the form'}\`;
    throw error;
  } finally {
    stop();
    await client.close();
  }
}
`;

/** The same partner's mistakes, which the compiler must refuse: lines 5 and 7. */
const MISTAKE = `
import { SignInDocument, createArcadiaClient, isArcadiaError } from '@arcadia/sdk';

const client = createArcadiaClient({ url: 'https://arcadia.example/graphql' });
export const withoutPassword = client.request(SignInDocument, { email: 'studio@example.com' });
// A RATE_LIMITED error names no field.
export const field = (error: unknown) => isArcadiaError(error, 'RATE_LIMITED') && error.first.field;
`;

/** Runs a command and resolves with its exit code and output, failing or not. */
async function attempt(command: string, args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/**
 * Type-checks files of the partner project with the repository's TypeScript,
 * strict, nodenext, and the SDK's own declarations checked (no skipLibCheck).
 */
async function typeCheck(config: string, environment: Record<string, unknown>, files: string[]) {
  writeFileSync(join(project, 'example.ts'), EXAMPLE);
  writeFileSync(join(project, 'mistake.ts'), MISTAKE);
  const compilerOptions = {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    ...environment,
  };
  writeFileSync(join(project, config), JSON.stringify({ compilerOptions, files }, null, 2));
  const { code, stdout, stderr } = await attempt(
    process.execPath,
    [tsc, '-p', config, '--pretty', 'false'],
    project,
  );
  const errors = stdout.split('\n').filter((line) => / error TS\d+:/.test(line));
  return { code, errors, output: stdout + stderr };
}

beforeAll(async () => {
  const packed = await attempt(
    'npm',
    ['run', '-s', 'pack', '-w', sdkManifest.name, '--', '--out', out],
    repoRoot,
  );
  expect(packed.code, `npm run pack failed:\n${packed.stdout}\n${packed.stderr}`).toBe(0);
  expect(packed.stdout.trim().split('\n').at(-1)).toBe(tarball);

  mkdirSync(project, { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'partner-studio', private: true, type: 'module' }, null, 2)}\n`,
  );
  const installed = await attempt(
    'npm',
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'],
    project,
  );
  expect(installed.code, `npm install failed:\n${installed.stdout}\n${installed.stderr}`).toBe(0);
}, 90_000);

describe('the packed @arcadia/sdk', () => {
  it('holds the compiled library and its documents, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/CHANGELOG.md');
    const stray = files.filter(
      (file) =>
        !/^package\/(package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(file) &&
        !/^package\/dist\/.+\.(js|js\.map|d\.ts)$/.test(file),
    );
    expect(stray, 'only dist/, package.json and documents belong in the tarball').toEqual([]);
  });

  it('publishes a manifest that points at dist/ and depends on no workspace package', () => {
    const manifest = JSON.parse(
      readFileSync(join(project, 'node_modules/@arcadia/sdk/package.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({
      name: '@arcadia/sdk',
      version: sdkManifest.version,
      type: 'module',
      sideEffects: false,
      main: './dist/index.js',
      types: './dist/index.d.ts',
      exports: {
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
        './package.json': './package.json',
      },
    });
    expect(Object.keys(manifest.exports['.'])).toEqual(['types', 'default']);
    expect(manifest.engines.node).toBeTypeOf('string');
    for (const field of ['private', 'devDependencies', 'scripts', 'workspaces'])
      expect(manifest, `"${field}" is workspace-only`).not.toHaveProperty(field);
    const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    expect(dependencies).toContain('graphql');
    expect(dependencies.filter((name) => name.startsWith('@arcadia/'))).toEqual([]);
  });

  it('imports nothing but its dependencies in the compiled code, so it runs in browsers', () => {
    const dist = join(project, 'node_modules/@arcadia/sdk/dist');
    const manifest = JSON.parse(readFileSync(join(dist, '../package.json'), 'utf8'));
    const allowed = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    const imported = readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js'))
      .flatMap((file) =>
        [
          ...readFileSync(join(dist, file), 'utf8').matchAll(
            /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g,
          ),
        ].map((match) => `${file} → ${match[1] ?? match[2]}`),
      );
    expect(imported.length).toBeGreaterThan(0);
    const foreign = imported.filter((line) => {
      const specifier = line.split(' → ')[1]!;
      if (specifier.startsWith('.')) return false;
      return !allowed.some((name) => specifier === name || specifier.startsWith(`${name}/`));
    });
    // node:* (absent from browsers) and undeclared packages (absent from partners' installs).
    expect(foreign).toEqual([]);
  });

  it("type-checks a browser partner's code against the published declarations and refuses a wrong call", async () => {
    const checked = await typeCheck(
      'tsconfig.browser.json',
      { lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [] },
      ['example.ts', 'mistake.ts'],
    );
    // The two mistakes and nothing else: an error in example.ts or in
    // node_modules/@arcadia/sdk/dist/*.d.ts means the published types are broken.
    expect(checked.errors, checked.output).toHaveLength(2);
    expect(checked.errors[0]).toMatch(/^mistake\.ts\(5,\d+\): error TS2345: .*password/);
    expect(checked.errors[1]).toMatch(/^mistake\.ts\(7,\d+\): error TS2339: Property 'field'/);
    expect(checked.code).not.toBe(0);
  }, 30_000);

  it("type-checks a Node partner's code without the DOM library", async () => {
    // A Node service has @types/node and no DOM: the declarations must not
    // need browser-only types (Storage, WebSocket's DOM typing, …) to compile.
    const checked = await typeCheck(
      'tsconfig.node.json',
      { lib: ['ES2023'], types: ['node'], typeRoots: [join(repoRoot, 'node_modules/@types')] },
      ['example.ts'],
    );
    expect(checked.errors, checked.output).toEqual([]);
    expect(checked.code).toBe(0);
  }, 30_000);

  it('imports with plain Node, without TypeScript or the workspace sources', async () => {
    const script = `
      const sdk = await import('@arcadia/sdk');
      const client = sdk.createArcadiaClient({ url: 'http://127.0.0.1:9/graphql' });
      const session = await client.session.current();
      await client.close();
      const error = new sdk.ArcadiaError([{ message: 'Slow down.', code: 'RATE_LIMITED', retryAfterSeconds: 3 }]);
      console.log(JSON.stringify({
        url: import.meta.resolve('@arcadia/sdk'),
        signIn: sdk.SignInDocument.kind,
        me: sdk.MeDocument.definitions[0].name.value,
        session,
        rateLimited: sdk.isArcadiaError(error, 'RATE_LIMITED'),
        notArcadia: sdk.isArcadiaError(new Error('plain')),
        functions: ['createArcadiaClient', 'isArcadiaError', 'memorySessionStorage', 'localSessionStorage']
          .filter((name) => typeof sdk[name] === 'function'),
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: project,
    });
    const loaded = JSON.parse(stdout);
    expect(loaded.url).toBe(
      new URL('node_modules/@arcadia/sdk/dist/index.js', `file://${project}/`).href,
    );
    expect(loaded).toEqual({
      url: loaded.url,
      signIn: 'Document',
      me: 'Me',
      session: null,
      rateLimited: true,
      notArcadia: false,
      functions: [
        'createArcadiaClient',
        'isArcadiaError',
        'memorySessionStorage',
        'localSessionStorage',
      ],
    });
  });
});
