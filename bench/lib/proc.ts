/**
 * Child processes of a benchmark run and what they cost: every child is
 * spawned in its own process group, logged to a file, and killed (group and
 * all) when the run ends, fails or is interrupted; a sampler reads CPU time
 * and resident memory of chosen pids from /proc.
 */
import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the child has exited. */
  readonly exited: Promise<string>;
  /** The last lines the child printed, for error messages. */
  tail(): string;
  /** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Child>();
let hooksInstalled = false;
let pidFile: string | undefined;

function writePidFile() {
  if (pidFile) writeFileSync(pidFile, [...running].map((c) => `${c.pid}\n`).join(''));
}

/**
 * Starts a watchdog that kills the children's process groups should this
 * process die without running its exit handlers (SIGKILL, OOM): a shell loop
 * polling our pid once a second and reading the groups from `file`.
 */
function startWatchdog(file: string) {
  pidFile = file;
  writePidFile();
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `for p in $(cat '${file}' 2>/dev/null); do kill -KILL -$p 2>/dev/null; done`;
  spawn('sh', ['-c', script], { stdio: 'ignore', detached: true }).unref();
}

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every child still running; synchronous so it works in an `exit` handler. */
export function killAllChildren(): void {
  for (const child of running) killGroup(child.pid, 'SIGKILL');
  running.clear();
  writePidFile();
}

function installHooks(logDir: string) {
  if (hooksInstalled) return;
  hooksInstalled = true;
  startWatchdog(join(logDir, 'children.pids'));
  process.on('exit', killAllChildren);
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write(`\n${signal}: stopping ${running.size} child process(es)…\n`);
      void Promise.all([...running].map((c) => c.stop(2000))).finally(() => process.exit(130));
    });
  }
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  logDir: string;
  /** CPU list for `taskset -c`, e.g. `0` or `1`; undefined for no pinning. */
  cpus?: string | undefined;
  /** Opens an IPC channel (child_process `fork`-style) for messages. */
  ipc?: boolean;
}

/** Spawns `command args…` as a tracked child; stdout and stderr go to `<logDir>/<name>.log`. */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Child {
  installHooks(options.logDir);
  const logFile = join(options.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const [cmd, argv] = options.cpus
    ? ['taskset', ['-c', options.cpus, command, ...args]]
    : [command, [...args]];
  const stdio: StdioOptions = options.ipc
    ? ['ignore', 'pipe', 'pipe', 'ipc']
    : ['ignore', 'pipe', 'pipe'];
  const proc = spawn(cmd, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio,
    // Own process group: Ctrl-C in the terminal reaches only the harness,
    // which then stops the children in order, and a kill takes the group.
    detached: true,
  });
  if (!proc.pid) throw new Error(`could not start ${name} (${cmd})`);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(child);
      writePidFile();
      log.end();
      resolve(signal ?? String(code));
    });
  });
  const child: Child = {
    name,
    process: proc,
    pid: proc.pid,
    logFile,
    exited,
    tail: () => lines.join('\n'),
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      killGroup(proc.pid!, 'SIGTERM');
      const timer = setTimeout(() => killGroup(proc.pid!, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Whatever the child itself started (none expected) goes with its group.
      killGroup(proc.pid!, 'SIGKILL');
    },
  };
  running.add(child);
  writePidFile();
  return child;
}

/** Polls `check` until it resolves truthy; rejects after `timeoutMs` or when `child` exits. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs, child, intervalMs = 200 }: { timeoutMs: number; child?: Child; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  void child?.exited.then((code) => (exited = code));
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(
        `${child!.name} exited (${exited}) while waiting for ${what}:\n${child!.tail()}`,
      );
    }
    if (await check().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${child ? `:\n${child.tail()}` : ''}`,
  );
}

/** True when GET `url` answers 2xx. */
export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return res.ok;
}

// ---------------------------------------------------------------------------
// /proc sampling

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user+system, all threads) and resident KiB of `pid`, or undefined once gone. */
export function readProc(pid: number): { cpuSec: number; rssKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 here.
    const cpuSec = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { cpuSec, rssKiB: rss ? Number(rss[1]) : 0 };
  } catch {
    return undefined;
  }
}

export interface Sample {
  /** ms since the sampler started. */
  t: number;
  cpuSec: number;
  rssKiB: number;
}

/**
 * Busy CPU seconds of the whole machine (`cpu`) or of one core (`cpu0`…)
 * from /proc/stat: user, nice, system, irq and softirq; steal separately.
 */
export function readSystemCpu(
  line = 'cpu',
): { cpuSec: number; stealSec: number; softirqSec: number } | undefined {
  try {
    const row = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${line} `));
    if (!row) return undefined;
    const [user, nice, system, , , irq, softirq, steal] = row
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return {
      cpuSec: (user! + nice! + system! + irq! + softirq!) / CLK_TCK,
      stealSec: (steal ?? 0) / CLK_TCK,
      softirqSec: softirq! / CLK_TCK,
    };
  } catch {
    return undefined;
  }
}

/** A sampler of {@link readSystemCpu}'s `field` for `line` (`cpu`, `cpu0`…), with no memory. */
export function systemCpuSampler(
  line = 'cpu',
  field: 'cpuSec' | 'stealSec' | 'softirqSec' = 'cpuSec',
): ProcSampler {
  return new ProcSampler(() => {
    const c = readSystemCpu(line);
    return c && { cpuSec: c[field], rssKiB: 0 };
  });
}

/**
 * Samples CPU time and memory every `intervalMs` — of a pid, or of whatever
 * `read` returns; windows are delimited by named marks.
 */
export class ProcSampler {
  readonly samples: Sample[] = [];
  private readonly marks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();
  private readonly read: () => { cpuSec: number; rssKiB: number } | undefined;

  constructor(
    source: number | (() => { cpuSec: number; rssKiB: number } | undefined),
    intervalMs = 250,
  ) {
    this.read = typeof source === 'number' ? () => readProc(source) : source;
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
    this.timer.unref();
  }

  private take() {
    const s = this.read();
    if (s) this.samples.push({ t: performance.now() - this.t0, ...s });
  }

  mark(name: string) {
    this.take();
    this.marks.set(name, performance.now() - this.t0);
  }

  stop() {
    this.take();
    clearInterval(this.timer);
  }

  private between(from?: string, to?: string): Sample[] {
    const a = from ? (this.marks.get(from) ?? 0) : 0;
    const b = to ? (this.marks.get(to) ?? Infinity) : Infinity;
    return this.samples.filter((s) => s.t >= a - 1 && s.t <= b + 1);
  }

  /** Peak resident MiB between two marks (whole life by default). */
  peakRssMiB(from?: string, to?: string): number {
    const w = this.between(from, to);
    return w.length ? Math.max(...w.map((s) => s.rssKiB)) / 1024 : 0;
  }

  /** Resident MiB at the sample closest to a mark. */
  rssAtMiB(mark: string): number {
    const t = this.marks.get(mark);
    if (t === undefined || !this.samples.length) return 0;
    let best = this.samples[0]!;
    for (const s of this.samples) if (Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
    return best.rssKiB / 1024;
  }

  /** Mean CPU% (100 = one core busy) between two marks. */
  cpuPct(from?: string, to?: string): number {
    const w = this.between(from, to);
    if (w.length < 2) return 0;
    const first = w[0]!;
    const last = w[w.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? ((last.cpuSec - first.cpuSec) / dt) * 100 : 0;
  }

  /** CPU% over the last `spanMs`. */
  recentCpuPct(spanMs: number): number {
    this.take();
    const last = this.samples[this.samples.length - 1];
    if (!last) return 0;
    const first = this.samples.find((s) => s.t >= last.t - spanMs) ?? last;
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? ((last.cpuSec - first.cpuSec) / dt) * 100 : 0;
  }

  /** Highest CPU% over any ~1 s stretch between two marks. */
  peakCpuPct(from?: string, to?: string, spanMs = 1000): number {
    const w = this.between(from, to);
    let peak = 0;
    let j = 0;
    for (let i = 0; i < w.length; i++) {
      while (j < i && w[i]!.t - w[j + 1]!.t >= spanMs) j++;
      const dt = (w[i]!.t - w[j]!.t) / 1000;
      if (w[i]!.t - w[j]!.t >= spanMs * 0.9 && dt > 0) {
        peak = Math.max(peak, ((w[i]!.cpuSec - w[j]!.cpuSec) / dt) * 100);
      }
    }
    return peak;
  }
}

/** Pids whose command name (/proc/<pid>/comm) is `name`, e.g. `redis-server`. */
export function findPids(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Whether `taskset` can pin processes here (Linux with util-linux). */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return existsSync('/proc/self/status');
  } catch {
    return false;
  }
}

/** Pins every thread of this process to `cpus` (taskset -a -p -c). */
export function pinSelf(cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
