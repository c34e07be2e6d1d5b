import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../build-references.js';

// The Dockerfile cannot be built here (no Docker): dockerfile-utils, the
// validator behind VS Code's Dockerfile support, checks each instruction's
// syntax, flags and arguments, and the tests below pin what the runtime
// stage promises docker-compose.yml.

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const problems = (content: string) =>
  validate(content).map((d) => {
    const message = typeof d.message === 'string' ? d.message : d.message.value;
    return `line ${d.range.start.line + 1}: ${message}`;
  });
/** The instructions of the last stage, the image that runs. */
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

describe('Dockerfile', () => {
  it('has no instruction the validator rejects', () => {
    expect(problems(dockerfile)).toEqual([]);
  });

  it('would fail the check with a malformed instruction', () => {
    const broken = dockerfile.replace('--start-period=60s', '--start-perod=60s');
    expect(problems(broken)).toEqual([expect.stringContaining('Unknown flag: start-perod')]);
  });

  it('runs compiled code on Node 24 as the non-root node user, with a /health check', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(runtime).toMatch(/NODE_OPTIONS=--conditions=compiled/);
    expect(runtime).toMatch(/NODE_ENV=production/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(
      /^HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "-e", "fetch\([^\n]*\/health/m,
    );
    // Production dependencies only: the runtime stage copies prod-deps, never build's node_modules.
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).not.toMatch(/COPY --from=build \/app/);
  });
});
