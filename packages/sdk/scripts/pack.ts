/**
 * Packs `@arcadia/sdk` the way partner studios install it. In the monorepo the
 * package exports its TypeScript sources (the `compiled` condition names
 * `dist/`), is private and carries codegen devDependencies; none of that may
 * reach npm. This script builds `dist/` with `tsconfig.build.json` (browser
 * globals, no Node types, maps with their sources inlined since `src/` is not
 * shipped), stages a package whose manifest points at `dist/` only, checks
 * that the built code imports nothing but its declared dependencies and no
 * Node built-in (the SDK runs in browsers), and runs `npm pack` on the stage.
 *
 *   npm run pack -w @arcadia/sdk                     → packages/sdk/.pack/arcadia-sdk-<version>.tgz
 *   npm run pack -w @arcadia/sdk -- --out <folder>   → <folder>/arcadia-sdk-<version>.tgz
 *
 * The stage is `<folder>/package`, rebuilt on every run. test/pack.int.test.ts
 * installs the tarball into an empty project and type-checks a partner's code against it.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The SDK workspace: packages/sdk. */
export const sdkDir = join(dirname(fileURLToPath(import.meta.url)), '..');

type ExportTarget = string | { [condition: string]: ExportTarget };

/** The parts of a package.json this script reads or writes. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  keywords?: string[];
  license?: string;
  homepage?: string;
  bugs?: unknown;
  repository?: { type: string; url: string; directory?: string } | string;
  type?: string;
  sideEffects?: boolean;
  main?: string;
  types?: string;
  exports?: Record<string, ExportTarget>;
  files?: string[];
  engines?: Record<string, string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  devDependencies?: Record<string, string>;
}

/** Files next to package.json that go into the tarball when they exist. */
const DOCUMENTS = ['README.md', 'CHANGELOG.md', 'LICENSE'];

/**
 * Why a dependency cannot be published: a workspace package (`@arcadia/*` are
 * private, npm would not find them) or a version only a workspace resolves.
 */
function unpublishable(name: string, range: string): string | undefined {
  if (name.startsWith('@arcadia/')) return `${name} is a private workspace package`;
  if (range === '*' || /^(workspace|file|link):/.test(range))
    return `${name}@${range} only resolves inside the monorepo`;
  return undefined;
}

/**
 * The published exports: every workspace export that has a `compiled` build
 * becomes `{ types, default }` on `dist/`; source-only entries (test support)
 * are left out. `./package.json` is exported for tools that read it.
 */
function publishedExports(exports: Record<string, ExportTarget>): Record<string, ExportTarget> {
  const published: Record<string, ExportTarget> = {};
  for (const [subpath, target] of Object.entries(exports)) {
    const compiled = typeof target === 'object' ? target.compiled : undefined;
    if (typeof compiled !== 'string') continue;
    published[subpath] = { types: compiled.replace(/\.js$/, '.d.ts'), default: compiled };
  }
  return { ...published, './package.json': './package.json' };
}

/**
 * The manifest npm publishes, derived from the workspace's: exports, `main`
 * and `types` on `dist/`, an explicit `files` list, and none of the
 * workspace-only parts (`private`, scripts, devDependencies, the `compiled`
 * condition). Throws when a dependency cannot be published.
 */
export function publishedManifest(
  workspace: Manifest,
  extras: { repository?: Manifest['repository']; documents?: string[] } = {},
): Manifest {
  const problems = Object.entries({ ...workspace.dependencies, ...workspace.peerDependencies })
    .map(([name, range]) => unpublishable(name, range))
    .filter((problem): problem is string => problem !== undefined);
  if (problems.length) throw new Error(`cannot publish ${workspace.name}: ${problems.join('; ')}`);
  const exports = publishedExports(workspace.exports ?? {});
  const root = exports['.'];
  if (typeof root !== 'object') throw new Error(`${workspace.name} has no compiled "." export`);
  const manifest: Manifest = {
    name: workspace.name,
    version: workspace.version,
    description: workspace.description,
    keywords: workspace.keywords,
    license: workspace.license,
    homepage: workspace.homepage,
    bugs: workspace.bugs,
    repository: workspace.repository ?? extras.repository,
    type: workspace.type,
    sideEffects: workspace.sideEffects ?? false,
    main: root.default as string,
    types: root.types as string,
    exports,
    files: ['dist', ...(extras.documents ?? [])],
    engines: workspace.engines,
    dependencies: workspace.dependencies,
    peerDependencies: workspace.peerDependencies,
    peerDependenciesMeta: workspace.peerDependenciesMeta,
  };
  // JSON.stringify drops the undefined fields; this keeps the object itself clean too.
  return Object.fromEntries(
    Object.entries(manifest).filter(([, value]) => value !== undefined),
  ) as unknown as Manifest;
}

/** The monorepo's git remote, as npm's `repository` field; undefined without one. */
function gitRepository(): Manifest['repository'] {
  try {
    const url = execFileSync('git', ['remote', 'get-url', 'origin'], {
      cwd: sdkDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const directory = relative(join(sdkDir, '..', '..'), sdkDir)
      .split('\\')
      .join('/');
    return url ? { type: 'git', url, directory } : undefined;
  } catch {
    return undefined;
  }
}

/** Every file under `dir`, relative to it, `/`-separated. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

const NODE_BUILTINS = new Set(builtinModules);

/** Module specifiers a JavaScript or declaration file imports statically or dynamically. */
function importedSpecifiers(code: string): string[] {
  const specifiers = [
    ...code.matchAll(/^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return specifiers.map((match) => match[1] as string);
}

/**
 * What the staged build imports that a partner's install would not provide:
 * a Node built-in (browsers have none) or a package that is not a dependency.
 */
function importProblems(stage: string, manifest: Manifest): string[] {
  const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }));
  const problems: string[] = [];
  for (const file of listFiles(join(stage, 'dist')).filter((f) => /\.(js|d\.ts)$/.test(f))) {
    for (const specifier of importedSpecifiers(readFileSync(join(stage, 'dist', file), 'utf8'))) {
      if (specifier.startsWith('.')) continue;
      const name = specifier.startsWith('@')
        ? specifier.split('/').slice(0, 2).join('/')
        : (specifier.split('/')[0] as string);
      if (specifier.startsWith('node:') || NODE_BUILTINS.has(name))
        problems.push(
          `dist/${file} imports the Node built-in "${specifier}"; the SDK runs in browsers`,
        );
      else if (!declared.has(name))
        problems.push(`dist/${file} imports "${specifier}", which is not a dependency`);
    }
  }
  return problems;
}

/** Runs npm (the one running this script when there is one) and returns its standard output. */
function npm(args: string[], cwd: string): string {
  const cli = process.env.npm_execpath;
  const [command, prefix] =
    cli && /npm-cli\.c?js$/.test(cli) ? [process.execPath, [cli]] : ['npm', []];
  return execFileSync(command, [...prefix, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** What {@link packSdk} made. */
export interface PackResult {
  /** Absolute path of `arcadia-sdk-<version>.tgz`. */
  tarball: string;
  /** The tarball's files, relative to the package root. */
  files: string[];
  manifest: Manifest;
}

/** Builds `dist/`, stages the publishable package in `<outDir>/package` and packs it into `outDir`. */
export function packSdk(outDir: string): PackResult {
  const workspace = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')) as Manifest;
  const documents = DOCUMENTS.filter((file) => existsSync(join(sdkDir, file)));
  const manifest = publishedManifest(workspace, { repository: gitRepository(), documents });
  if (!manifest.repository) console.warn('! no git remote: the package has no "repository" field');

  // A clean build: `tsc -b` leaves the outputs of deleted sources in dist/.
  rmSync(join(sdkDir, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
    cwd: sdkDir,
    stdio: 'inherit',
  });

  const stage = join(outDir, 'package');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(join(sdkDir, 'dist'), join(stage, 'dist'), {
    recursive: true,
    // JavaScript, declarations and maps; not the build's .tsbuildinfo.
    filter: (source) => !source.endsWith('.tsbuildinfo'),
  });
  for (const file of documents) cpSync(join(sdkDir, file), join(stage, file));
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const problems = importProblems(stage, manifest);
  if (problems.length) throw new Error(`the build is not publishable:\n${problems.join('\n')}`);

  const [packed] = JSON.parse(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], stage),
  ) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((file) => file.path).sort();
  const stray = files.filter(
    (file) => !file.startsWith('dist/') && file !== 'package.json' && !documents.includes(file),
  );
  if (stray.length) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
  return { tarball: join(outDir, packed.filename), files, manifest };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  // npm runs workspace scripts in the workspace; a relative --out means the caller's folder.
  const base = process.env.INIT_CWD ?? process.cwd();
  const outDir = values.out ? resolve(base, values.out) : join(sdkDir, '.pack');
  const { tarball, files, manifest } = packSdk(outDir);
  console.log(`${manifest.name}@${manifest.version}: ${files.length} files`);
  for (const file of files) console.log(`  ${file}`);
  console.log(tarball);
}
