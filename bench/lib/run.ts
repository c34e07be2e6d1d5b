/**
 * What every benchmark does around its measurements: log lines, free ports,
 * the run's folders, CPU placement, and the versions and machine its
 * results file records.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin, pinSelf } from './proc.js';
import { round } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The repository's root: the working directory of every benchmark child. */
export const repoRoot = resolve(here, '../..');

/** `bench/results`: the results files, and the logs of each run below `logs/`. */
const resultsDir = resolve(here, '../results');

/** A progress line on stderr, stamped with the time of day. */
export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A TCP port free on 127.0.0.1 right now, for a child to listen on. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** The installed version of `pkg`, or `unknown`. */
function packageVersion(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    try {
      // Packages whose exports hide package.json: walk up from the entry point.
      let dir = dirname(require.resolve(pkg));
      for (let i = 0; i < 6; i++, dir = dirname(dir)) {
        try {
          const json = require(join(dir, 'package.json')) as { name?: string; version: string };
          if (json.name === pkg) return json.version;
        } catch {
          // keep walking
        }
      }
    } catch {
      // not installed
    }
    return 'unknown';
  }
}

/** The commit measured, and whether router/ or packages/ differ from it. */
function gitDescribe(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repoRoot }).toString().trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'router', 'packages');
    return dirty ? `${head} + uncommitted changes in router/ or packages/` : head;
  } catch {
    return 'unknown';
  }
}

/** CPU lists for `taskset -c`; undefined where nothing is pinned. */
export interface CpuPlan {
  gateway?: string;
  rest?: string;
}

/**
 * One benchmark run: its name and start time, its folders, where its
 * processes run, and its results file.
 */
export class BenchRun {
  /** The start time, fit for file names. */
  readonly stamp: string;
  /** `<idPrefix>-<stamp>`: names the log folder and the run's Redis keys. */
  readonly runId: string;
  /** `bench/results/logs/<runId>`: the children's logs. */
  readonly logDir: string;
  /** `bench/results/<name>-<stamp>.json`. */
  readonly resultsFile: string;

  private constructor(
    readonly startedAt: Date,
    name: string,
    idPrefix: string,
    /** A temporary ARCADIA_HOME for the children (keys, supergraph); removed when this process exits. */
    readonly homeDir: string,
    /** Where the gateway and everything else run; empty when nothing is pinned. */
    readonly cpus: CpuPlan,
    readonly cpuCount: number,
  ) {
    this.stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace('Z', '');
    this.runId = `${idPrefix}-${this.stamp}`;
    this.logDir = join(resultsDir, 'logs', this.runId);
    this.resultsFile = join(resultsDir, `${name}-${this.stamp}.json`);
  }

  /**
   * Starts a run of benchmark `name`: creates its folders and places this
   * process by `pin` (`gateway` or `none`): with `gateway`, on a machine of
   * two or more CPUs where taskset works, the gateway goes on CPU 0 and
   * everything else, this process at once, on the others; otherwise
   * nothing is pinned.
   */
  static async start(name: string, { idPrefix = name, pin }: { idPrefix?: string; pin: string }) {
    if (pin !== 'none' && pin !== 'gateway') throw new Error('--pin must be gateway or none');
    const homeDir = await mkdtemp(join(tmpdir(), 'arcadia-bench-'));
    // Also on Ctrl-C, which exits without running the benchmark's `finally`.
    process.on('exit', () => rmSync(homeDir, { recursive: true, force: true }));
    const count = cpus().length;
    const plan: CpuPlan = {};
    if (pin === 'gateway' && count >= 2 && canPin()) {
      plan.gateway = '0';
      plan.rest = count === 2 ? '1' : `1-${count - 1}`;
      pinSelf(plan.rest);
    }
    const run = new BenchRun(new Date(), name, idPrefix, homeDir, plan, count);
    await mkdir(run.logDir, { recursive: true });
    return run;
  }

  /** The machine, and the versions of the Arcadia router and of `packages`, for the results file. */
  environment<P extends string>(packages: readonly P[]) {
    const versions = { arcadiaRouter: gitDescribe() } as Record<'arcadiaRouter' | P, string>;
    for (const pkg of packages) versions[pkg] = packageVersion(pkg);
    return {
      machine: {
        cpus: this.cpuCount,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memGiB: round(totalmem() / 2 ** 30, 1),
        arch: arch(),
        kernel: release(),
        node: process.version,
      },
      versions,
    };
  }

  /** Writes the results file. */
  async save(report: object): Promise<void> {
    await writeFile(this.resultsFile, `${JSON.stringify(report, null, 2)}\n`);
  }

  /** Prints where the results file and the logs are. */
  printFiles(): void {
    console.log(
      `results: ${relative(process.cwd(), this.resultsFile)}\n` +
        `logs:    ${relative(process.cwd(), this.logDir)}`,
    );
  }
}
