import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CommonJS (`main`) and ESM (`module`) builds. Node loads the
// CommonJS one for everybody; Vite would hand our sources the ESM one, and two
// copies break `instanceof GraphQLError` and schema identity checks.
const graphqlCjs = createRequire(import.meta.url).resolve('graphql');

/**
 * One vitest run covers every workspace: fast `*.test.ts` and `*.int.test.ts`
 * against the real local services (started by `npm test` before vitest).
 */
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlCjs }] },
  test: {
    include: [
      '{packages,subgraphs,router,workers,schema}/**/*.test.ts',
      'scripts/**/*.test.ts',
      'e2e/**/*.test.ts',
      'apps/**/*.test.ts',
    ],
    // dist/: `npm run build` output, never a test source.
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration files each create their own database/keyspace/prefix, so
    // files may run in parallel; two workers fit the 2-core machines.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
