/**
 * Keeps the production build's TypeScript project references in step with the
 * workspaces' package.json files. `npm run build` is `tsc -b tsconfig.build.json`:
 * every production workspace (one with a `tsconfig.build.json`) compiles its
 * `src/` to `dist/` and must reference the workspaces it depends on, and its
 * package exports must name the compiled file under the `compiled` condition.
 *
 *   npx tsx scripts/build-references.ts           rewrites the references
 *   npx tsx scripts/build-references.ts --check   lists what is out of step, exit 1 if anything
 *
 * scripts/test/build-config.test.ts runs the check with every `npm test`.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'prettier';

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

const BUILD_CONFIG = 'tsconfig.build.json';
const BASE_CONFIG = 'tsconfig.build.base.json';
/** Where the deployable processes live: each of them must be built. */
const ENTRY_FOLDERS = ['router', 'subgraphs/', 'workers/'];

type ExportTarget = string | { [condition: string]: ExportTarget };

interface Manifest {
  name: string;
  exports?: Record<string, ExportTarget>;
  dependencies?: Record<string, string>;
}

/** One npm workspace of the repository. */
export interface Workspace {
  /** Folder relative to the root, `/`-separated: `packages/auth`. */
  readonly dir: string;
  readonly manifest: Manifest;
  /** It has a tsconfig.build.json: `npm run build` compiles it. */
  readonly production: boolean;
}

interface BuildConfig {
  extends?: string;
  files?: string[];
  references?: { path: string }[];
  [key: string]: unknown;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Every workspace named by the root package.json (`dir` or `dir/*` patterns). */
export function listWorkspaces(root = repoRoot): Workspace[] {
  const patterns = readJson<{ workspaces: string[] }>(join(root, 'package.json')).workspaces;
  const dirs = patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${parent}/${entry.name}`);
  });
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .sort()
    .map((dir) => ({
      dir,
      manifest: readJson<Manifest>(join(root, dir, 'package.json')),
      production: existsSync(join(root, dir, BUILD_CONFIG)),
    }));
}

const toPosix = (path: string) => path.split('\\').join('/');

/** The references a workspace's tsconfig.build.json must have: its workspace dependencies. */
function expectedReferences(workspace: Workspace, byName: Map<string, Workspace>): string[] {
  return Object.keys(workspace.manifest.dependencies ?? {})
    .map((name) => byName.get(name))
    .filter((dep): dep is Workspace => dep !== undefined)
    .map((dep) => toPosix(join(relative(workspace.dir, dep.dir), BUILD_CONFIG)))
    .sort();
}

/** The root build's references: every deployable workspace (the packages come through them). */
function expectedRootReferences(workspaces: Workspace[]): string[] {
  return workspaces
    .filter((w) => w.production && !w.dir.startsWith('packages/'))
    .map((w) => `./${w.dir}/${BUILD_CONFIG}`)
    .sort();
}

/**
 * Test support kept in src/ (`src/testing.ts`, `src/testing/…`, for other
 * workspaces' tests) is not part of the build (tsconfig.build.base.json
 * excludes it), so its export stays source-only.
 */
const isTestSupport = (target: string) => /^\.\/src\/(.*\/)?testing(\.ts$|\/)/.test(target);

/** Exports pointing into src/ must say where the compiled file is, for `--conditions=compiled`. */
function exportProblems(workspace: Workspace): string[] {
  const problems: string[] = [];
  for (const [subpath, target] of Object.entries(workspace.manifest.exports ?? {})) {
    const where = `${workspace.dir}/package.json exports["${subpath}"]`;
    if (typeof target === 'string') {
      if (target.startsWith('./src/') && !isTestSupport(target))
        problems.push(`${where} is "${target}"; production needs ${conditional(target)}`);
      continue;
    }
    const source = target.default;
    if (typeof source !== 'string' || !source.startsWith('./src/') || isTestSupport(source))
      continue;
    const keys = Object.keys(target);
    if (
      target.compiled !== compiledPath(source) ||
      keys.indexOf('compiled') > keys.indexOf('default')
    )
      problems.push(`${where} must be ${conditional(source)} (compiled first)`);
  }
  return problems;
}

const compiledPath = (source: string) =>
  source.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js');
const conditional = (source: string) =>
  `{ "compiled": "${compiledPath(source)}", "default": "${source}" }`;

const sameList = (a: string[] = [], b: string[] = []) =>
  a.length === b.length && a.every((item, i) => item === b[i]);

/**
 * Everything about the build configuration that is out of step with the
 * package.json files, one sentence each; empty when all is well.
 */
export function buildConfigProblems(root = repoRoot): string[] {
  const workspaces = listWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.manifest.name, w]));
  const problems: string[] = [];
  for (const workspace of workspaces) {
    const deployable = ENTRY_FOLDERS.some((f) =>
      f.endsWith('/') ? workspace.dir.startsWith(f) : workspace.dir === f,
    );
    if (!workspace.production) {
      if (deployable) problems.push(`${workspace.dir} has no ${BUILD_CONFIG}, so it is not built`);
      continue;
    }
    const config = readJson<BuildConfig>(join(root, workspace.dir, BUILD_CONFIG));
    const base = toPosix(relative(workspace.dir, BASE_CONFIG));
    if (config.extends !== base)
      problems.push(`${workspace.dir}/${BUILD_CONFIG} must extend "${base}"`);
    const want = expectedReferences(workspace, byName);
    const have = (config.references ?? []).map((r) => r.path);
    if (!sameList(have, want))
      problems.push(
        `${workspace.dir}/${BUILD_CONFIG} references [${have.join(', ')}] but its dependencies need [${want.join(', ')}]`,
      );
    for (const name of Object.keys(workspace.manifest.dependencies ?? {})) {
      const dep = byName.get(name);
      if (dep && !dep.production)
        problems.push(
          `${workspace.dir} depends on ${name} (${dep.dir}), which has no ${BUILD_CONFIG}: production cannot run it`,
        );
    }
    problems.push(...exportProblems(workspace));
  }
  const rootConfig = readJson<BuildConfig>(join(root, BUILD_CONFIG));
  const want = expectedRootReferences(workspaces);
  const have = (rootConfig.references ?? []).map((r) => r.path);
  if (!sameList(have, want))
    problems.push(
      `${BUILD_CONFIG} references [${have.join(', ')}] but should be [${want.join(', ')}]`,
    );
  return problems;
}

async function rewrite(file: string, references: string[]): Promise<boolean> {
  const config = readJson<BuildConfig>(file);
  // Expanded at the top (Prettier keeps an object expanded when it was), one
  // line per reference; Prettier then has the last word, as `npm run lint` checks it.
  const text = JSON.stringify(
    { ...config, references: references.map((path) => ({ path })) },
    null,
    2,
  ).replace(/\{\n\s+("path": "[^"]*")\n\s+\}/g, '{ $1 }');
  const next = await format(text, { filepath: file });
  if (readFileSync(file, 'utf8') === next) return false;
  writeFileSync(file, next);
  return true;
}

/** Rewrites every production workspace's references (and the root's); resolves to the files changed. */
export async function writeBuildReferences(root = repoRoot): Promise<string[]> {
  const workspaces = listWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.manifest.name, w]));
  const changed: string[] = [];
  for (const workspace of workspaces.filter((w) => w.production)) {
    const file = join(root, workspace.dir, BUILD_CONFIG);
    if (await rewrite(file, expectedReferences(workspace, byName)))
      changed.push(relative(root, file));
  }
  if (await rewrite(join(root, BUILD_CONFIG), expectedRootReferences(workspaces)))
    changed.push(BUILD_CONFIG);
  return changed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const problems = buildConfigProblems();
    for (const problem of problems) console.error(`✗ ${problem}`);
    process.exitCode = problems.length ? 1 : 0;
  } else {
    const changed = await writeBuildReferences();
    console.log(changed.length ? `updated ${changed.join(', ')}` : 'references already up to date');
    const rest = buildConfigProblems();
    for (const problem of rest) console.error(`✗ ${problem}`);
    process.exitCode = rest.length ? 1 : 0;
  }
}
