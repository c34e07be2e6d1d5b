/**
 * Composes the subgraphs listed in supergraph.yaml into supergraph.graphql.
 *
 *   npm run compose              write supergraph.graphql
 *   npm run compose -- --check   fail if it is stale, composition fails, or a hint is not accepted
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { composeSupergraph, CompositionError } from './src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const configSchema = z.object({
  federation_version: z.string(),
  subgraphs: z.record(
    z.string(),
    z.object({ routing_url: z.url(), schema: z.object({ file: z.string() }) }),
  ),
  accepted_hints: z
    .array(z.object({ code: z.string(), message: z.string().optional() }))
    .nullish()
    .transform((v) => v ?? []),
});

const check = process.argv.includes('--check');
const outFile = resolve(here, 'supergraph.graphql');

try {
  const config = configSchema.parse(
    parseYaml(await readFile(resolve(here, 'supergraph.yaml'), 'utf8')),
  );
  const subgraphs = await Promise.all(
    Object.entries(config.subgraphs).map(async ([name, s]) => ({
      name,
      url: s.routing_url,
      typeDefs: await readFile(resolve(here, s.schema.file), 'utf8'),
    })),
  );
  const { supergraphSdl, hints } = composeSupergraph(subgraphs);
  const unaccepted = hints.filter(
    (h) =>
      !config.accepted_hints.some(
        (a) => a.code === h.code && (!a.message || h.message.includes(a.message)),
      ),
  );
  for (const h of unaccepted) console.error(`hint ${h.code}: ${h.message}`);
  if (unaccepted.length) {
    console.error(`${unaccepted.length} composition hint(s) not accepted in supergraph.yaml`);
    process.exit(1);
  }
  const output = `${supergraphSdl.trimEnd()}\n`;
  if (check) {
    const committed = await readFile(outFile, 'utf8').catch(() => '');
    if (committed !== output) {
      console.error('schema/supergraph.graphql is stale: run `npm run compose` and commit it.');
      process.exit(1);
    }
    console.log(`supergraph is up to date (${subgraphs.length} subgraphs)`);
  } else {
    await writeFile(outFile, output);
    console.log(`wrote schema/supergraph.graphql (${subgraphs.length} subgraphs)`);
  }
} catch (error) {
  if (error instanceof CompositionError || error instanceof z.ZodError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
