import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfigProblems, writeBuildReferences } from '../build-references.js';

const scratch = mkdtempSync(join(tmpdir(), 'arcadia-build-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(root: string, file: string, content: unknown) {
  mkdirSync(join(root, file, '..'), { recursive: true });
  writeFileSync(join(root, file), `${JSON.stringify(content, null, 2)}\n`);
}

/** A two-workspace repository: `router` depends on `packages/util`. */
function fixture(name: string) {
  const root = join(scratch, name);
  write(root, 'package.json', { workspaces: ['packages/*', 'router'] });
  write(root, 'tsconfig.build.json', { files: [], references: [] });
  write(root, 'packages/util/package.json', {
    name: 'util',
    exports: { '.': { compiled: './dist/index.js', default: './src/index.ts' } },
  });
  write(root, 'packages/util/tsconfig.build.json', {
    extends: '../../tsconfig.build.base.json',
    references: [],
  });
  write(root, 'router/package.json', {
    name: 'router',
    exports: { '.': './src/index.ts', './testing': './src/testing.ts' },
    dependencies: { util: '*' },
  });
  write(root, 'router/tsconfig.build.json', { extends: '../tsconfig.build.base.json' });
  return root;
}

describe('the production build configuration', () => {
  it('references every workspace dependency and exports compiled code, in this repository', () => {
    expect(buildConfigProblems()).toEqual([]);
  });

  it('reports a missing reference and a source-only export, and the writer fixes the references', async () => {
    const root = fixture('drift');
    expect(buildConfigProblems(root)).toEqual([
      'router/tsconfig.build.json references [] but its dependencies need [../packages/util/tsconfig.build.json]',
      'router/package.json exports["."] is "./src/index.ts"; production needs { "compiled": "./dist/index.js", "default": "./src/index.ts" }',
      'tsconfig.build.json references [] but should be [./router/tsconfig.build.json]',
    ]);
    expect(await writeBuildReferences(root)).toEqual([
      join('router', 'tsconfig.build.json'),
      'tsconfig.build.json',
    ]);
    expect(buildConfigProblems(root)).toEqual([
      'router/package.json exports["."] is "./src/index.ts"; production needs { "compiled": "./dist/index.js", "default": "./src/index.ts" }',
    ]);
  });
});
