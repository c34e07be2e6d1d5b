#!/usr/bin/env node
// S3-compatible server for local development and CI (started in the background
// by scripts/services/services.sh). Path-style and virtual-host requests both
// work; the access key id must be `S3RVER` (SigV4 signatures are not checked,
// so any secret does).
//   node scripts/services/s3rver.mjs --address 127.0.0.1 --port 9000 --directory DIR [--buckets a,b]
// Environment fallbacks: S3RVER_ADDRESS, S3RVER_PORT, S3RVER_DIRECTORY, S3RVER_BUCKETS.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const { values } = parseArgs({
  options: {
    address: { type: 'string', default: process.env.S3RVER_ADDRESS ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.S3RVER_PORT ?? '9000' },
    directory: {
      type: 'string',
      default: process.env.S3RVER_DIRECTORY ?? path.join(repoRoot, '.arcadia', 's3rver', 'data'),
    },
    buckets: { type: 'string', default: process.env.S3RVER_BUCKETS ?? '' },
  },
});

let S3rver;
try {
  // s3rver is CommonJS; resolve it from the repository's node_modules.
  S3rver = createRequire(path.join(repoRoot, 'package.json'))('s3rver');
} catch (err) {
  console.error(
    `s3rver is not installed (${err.message}); run \`npm install\` at the repository root first.`,
  );
  process.exit(1);
}

mkdirSync(values.directory, { recursive: true });

const server = new S3rver({
  address: values.address,
  port: Number(values.port),
  directory: values.directory,
  silent: true,
  resetOnClose: false,
  configureBuckets: values.buckets
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => ({ name })),
});

const { address, port } = await server.run();
console.log(`s3rver listening on http://${address}:${port} (data in ${values.directory})`);

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(0), 2000).unref();
    const closed = server.close();
    server.httpServer?.closeAllConnections?.();
    closed.then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
