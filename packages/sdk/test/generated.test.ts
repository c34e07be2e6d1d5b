/**
 * The committed SDK is what `npm run codegen -w @arcadia/sdk` makes of the
 * current supergraph and operations: a schema change that breaks an
 * operation, or an operation edited without regenerating, fails here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the generated SDK', () => {
  it('is up to date with the supergraph and the operations', async () => {
    const previous = process.cwd();
    process.chdir(root);
    try {
      const outputs = await generate({ ...config, silent: true }, false);
      expect(outputs).toHaveLength(1);
      const [output] = outputs;
      const committed = readFileSync(new URL(`../${output!.filename}`, import.meta.url), 'utf8');
      expect(
        output!.content,
        'packages/sdk is stale: run `npm run codegen -w @arcadia/sdk` and commit the result',
      ).toBe(committed);
    } finally {
      process.chdir(previous);
    }
  }, 60_000);

  it('types every operation of every domain', async () => {
    const sdk = await import('../src/index.js');
    for (const name of [
      'MeDocument',
      'SignInDocument',
      'CreateImageUploadDocument',
      'ImageUpdatedDocument',
      'SendMessageDocument',
      'ChatEventsDocument',
    ]) {
      expect(sdk, name).toHaveProperty(name);
    }
  });
});
