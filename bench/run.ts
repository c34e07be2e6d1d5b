/**
 * Benchmarks of the Arcadia router: `npm run bench -- <name> [options]`.
 * Each benchmark is `bench/<name>/index.ts`, exporting `description` and
 * `main(argv)`; without a name (or with an unknown one) this lists them.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Benchmark {
  description?: string;
  main(argv: string[]): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

async function available(): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(here, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const exists = await stat(join(here, entry.name, 'index.ts')).then(
      () => true,
      () => false,
    );
    if (exists) names.push(entry.name);
  }
  return names.sort();
}

async function load(name: string): Promise<Benchmark> {
  return (await import(pathToFileURL(join(here, name, 'index.ts')).href)) as Benchmark;
}

const [name, ...argv] = process.argv.slice(2);
const names = await available();

if (!name || !names.includes(name)) {
  if (name && name !== '--help' && name !== 'help') console.error(`unknown benchmark "${name}"\n`);
  console.log('usage: npm run bench -- <benchmark> [options]   (--help for its options)\n');
  console.log('benchmarks:');
  for (const n of names) {
    const { description } = await load(n);
    console.log(`  ${n.padEnd(16)} ${description ?? ''}`);
  }
  process.exitCode = name && name !== '--help' && name !== 'help' ? 1 : 0;
} else {
  try {
    await (await load(name)).main(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
