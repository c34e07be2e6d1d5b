/**
 * The committed SDK is what `npm run codegen -w @arcadia/sdk` makes of the
 * current supergraph, operations and the router's error codes: a schema
 * change that breaks an operation, an operation edited without
 * regenerating, or an error code added to packages/errors without
 * regenerating, fails here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config, { errorCodesSource, routerErrorCodes } from '../codegen.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the generated SDK', () => {
  it('is up to date with the supergraph and the operations', async () => {
    const previous = process.cwd();
    process.chdir(root);
    try {
      const outputs: Array<{ filename: string; content: string }> = await generate(
        { ...config, silent: true },
        false,
      );
      expect(outputs.map((output) => output.filename).sort()).toEqual([
        'src/generated/error-codes.ts',
        'src/generated/graphql.ts',
      ]);
      for (const output of outputs) {
        const committed = readFileSync(new URL(`../${output.filename}`, import.meta.url), 'utf8');
        expect(
          output.content,
          `packages/sdk/${output.filename} is stale: run \`npm run codegen -w @arcadia/sdk\` and commit the result`,
        ).toBe(committed);
      }
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

describe('the generated error codes', () => {
  it('list every code of the router, contract and protocol alike', async () => {
    const { ErrorCode } = await import('../../errors/src/index.js');
    const { CONTRACT_ERROR_CODES, PROTOCOL_ERROR_CODES } =
      await import('../src/generated/error-codes.js');
    expect([...CONTRACT_ERROR_CODES].sort()).toEqual(Object.values(ErrorCode).sort());
    expect(PROTOCOL_ERROR_CODES).toContain('PERSISTED_QUERY_NOT_FOUND');
    expect(PROTOCOL_ERROR_CODES).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('are read from the router source, and a new code there changes them', () => {
    const source = readFileSync(new URL('../../errors/src/index.ts', import.meta.url), 'utf8');
    const extended = source.replace(
      "  CONFLICT: 'CONFLICT',",
      "  CONFLICT: 'CONFLICT',\n  BRAND_NEW: 'BRAND_NEW',",
    );
    expect(extended).not.toBe(source);
    expect(routerErrorCodes(extended).contract).toContain('BRAND_NEW');
    expect(errorCodesSource(routerErrorCodes(extended))).not.toBe(errorCodesSource());
  });
});
