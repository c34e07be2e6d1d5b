import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../build-references.js';

// CI runs the suite on Node 20 and again on Node 24 (scripts/with-node.sh)
// with one node_modules: every native addon must load under both. N-API
// prebuilds do; a binary built for one Node ABI would not. Rather than a
// list that goes stale, this finds every `.node` file in node_modules and
// loads the package that loads it.

const modules = join(repoRoot, 'node_modules');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readManifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** The package a file belongs to: the nearest folder above it with a package.json. */
function owningPackage(file: string): string {
  let dir = dirname(file);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return readManifest(dir).name;
}

/** Every package installed at the top of node_modules, by its manifest. */
function topLevelPackages(): Manifest[] {
  return readdirSync(modules)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) =>
      name.startsWith('@')
        ? readdirSync(join(modules, name)).map((scoped) => join(modules, name, scoped))
        : [join(modules, name)],
    )
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map(readManifest);
}

/**
 * The packages to import: each one holding a `.node` file, or, for the
 * per-platform binary packages (`@img/sharp-linux-x64`), the package that
 * depends on it (`sharp`) and picks the binary for this platform and Node.
 */
function addonLoaders(): string[] {
  const owners = new Set(
    readdirSync(modules, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.node'))
      .filter((file) => !file.split(sep).includes('node_modules'))
      .map((file) => owningPackage(join(modules, file))),
  );
  const loaders = new Set<string>();
  const dependedOn = new Set<string>();
  for (const manifest of topLevelPackages()) {
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies });
    for (const owner of deps.filter((dep) => owners.has(dep))) {
      loaders.add(manifest.name);
      dependedOn.add(owner);
    }
  }
  // An owner nothing depends on loads its own binary (e.g. a package with binding.gyp).
  for (const owner of owners) if (!dependedOn.has(owner)) loaders.add(owner);
  return [...loaders].sort();
}

const loaders = addonLoaders();

describe(`native addons on Node ${process.versions.node}`, () => {
  it('finds the addons the services load, sharp and argon2 among them', () => {
    expect(loaders).toEqual(expect.arrayContaining(['sharp', '@node-rs/argon2']));
  });

  it.each(loaders)('loads %s', async (name) => {
    await expect(import(name)).resolves.toBeDefined();
  });
});
