import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DCLinter } from 'dclint';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../build-references.js';

// docker-compose.yml cannot be checked with `docker compose config` here (no
// Docker), so dclint validates it: the Compose Specification's JSON schema
// (bundled with dclint, YAML anchors and merge keys resolved first) and its
// correctness rules, configured in .dclintrc.yml as `npx dclint` uses them.

const composeFile = join(repoRoot, 'docker-compose.yml');
const linterConfig = {
  quiet: false,
  debug: false,
  exclude: [],
  ...(parse(readFileSync(join(repoRoot, '.dclintrc.yml'), 'utf8')) as object),
} as ConstructorParameters<typeof DCLinter>[0];

/** What dclint reports per file (its .d.ts files import without extensions, which NodeNext cannot follow). */
interface LintResult {
  messages: { rule: string; message: string; line: number }[];
}

async function lint(file: string) {
  const linter = new DCLinter(linterConfig);
  const results = linter.lintFiles([file], false) as LintResult[];
  return {
    messages: results.flatMap((r) => r.messages),
    report: await linter.formatResults(results, 'stylish'),
  };
}

interface Service {
  build?: unknown;
  command?: string[];
  restart?: string;
  environment?: Record<string, string | number>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const appServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

const scratch = mkdtempSync(join(tmpdir(), 'arcadia-compose-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('docker-compose.yml', () => {
  it('follows the Compose Specification and passes the linter', async () => {
    const { messages, report } = await lint(composeFile);
    expect(messages, report).toEqual([]);
  });

  it('would fail the check if it broke the specification', async () => {
    // The control for the test above: the same linter, one wrong value.
    const broken = join(scratch, 'docker-compose.yml');
    writeFileSync(
      broken,
      readFileSync(composeFile, 'utf8').replace(
        'postgres: { condition: service_healthy }',
        'postgres: { condition: healthy }',
      ),
    );
    const { messages } = await lint(broken);
    expect(messages.map((m) => m.rule)).toContain('invalid-schema');
  });

  it('restarts every app service unless stopped and checks its /health on its own PORT', () => {
    expect(appServices.length).toBeGreaterThan(0);
    const ports = new Set<string>();
    for (const [name, service] of appServices) {
      expect(service.restart, name).toBe('unless-stopped');
      expect(service.healthcheck?.test?.join(' '), name).toContain('/health');
      const port = String(service.environment?.PORT ?? '');
      expect(port, `${name} PORT`).toMatch(/^\d+$/);
      expect(ports.has(port), `${name} PORT ${port} is taken`).toBe(false);
      ports.add(port);
    }
  });

  it('starts each app service only once what it needs is healthy', () => {
    for (const [name, service] of appServices) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(compose.services[dependency]?.healthcheck, `${name} → ${dependency}`).toBeDefined();
        expect(condition, `${name} → ${dependency}`).toBe('service_healthy');
      }
    }
  });

  it('runs the compiled entry point of each router, subgraph and worker', () => {
    const commands = appServices.map(([, s]) => s.command ?? []);
    for (const command of commands) {
      expect(command[0]).toBe('node');
      // router/dist/main.js is compiled from router/src/main.ts by `npm run build`.
      const match = /^(.+)\/dist\/(.+)\.js$/.exec(command[1] ?? '');
      expect(match, command.join(' ')).not.toBeNull();
      const [, workspace, entry] = match!;
      expect(existsSync(join(repoRoot, workspace!, 'src', `${entry}.ts`)), command[1]).toBe(true);
      expect(existsSync(join(repoRoot, workspace!, 'tsconfig.build.json')), workspace).toBe(true);
    }
    const entries = new Set(commands.map((c) => c[1]));
    const expected = [
      'router/dist/main.js',
      ...['subgraphs', 'workers'].flatMap((folder) =>
        readdirSync(join(repoRoot, folder))
          .filter((name) => existsSync(join(repoRoot, folder, name, 'src/index.ts')))
          .map((name) => `${folder}/${name}/dist/index.js`),
      ),
    ];
    for (const entry of expected) expect(entries, `no service runs ${entry}`).toContain(entry);
  });

  it('keeps Redis data on a volume with the append-only file and no eviction', () => {
    const redis = compose.services.redis!;
    const args = (redis.command ?? []).join(' ');
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--appendfsync everysec');
    expect(args).toContain('--maxmemory-policy noeviction');
    expect(redis.volumes).toContain('redis-data:/data');
  });
});
