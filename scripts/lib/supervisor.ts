/**
 * Keeps a set of long-running child processes up, for `npm run up`: a child
 * that exits on its own is started again after an exponential back-off
 * (1 s, 2 s, 4 s, … capped at 30 s, back to 1 s once it has stayed up a
 * minute), and says so; only {@link Supervisor.stop} (Ctrl-C) stops them all.
 *
 * Why not a library: `concurrently` (the maintained npm choice) restarts
 * with `--restart-after exponential`, but without a cap, without resetting
 * after a stable run and with its own output format; pm2 is a daemon with
 * its own state directory. What is needed here is this much code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** One process to keep running. */
export interface SupervisedService {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Restart timing; the defaults are for people watching a terminal. */
export interface BackoffOptions {
  /** Delay before the first restart. */
  readonly initialMs?: number;
  /** Largest delay, however often it crashes. */
  readonly maxMs?: number;
  /** A child that stayed up this long before exiting starts again from `initialMs`. */
  readonly resetAfterMs?: number;
}

/** What {@link superviseProcesses} runs and how. */
export interface SupervisorOptions {
  readonly services: readonly SupervisedService[];
  /** Called at every start (restarts too), to wire up the child's stdout and stderr. */
  readonly onStart?: (service: SupervisedService, child: ChildProcess) => void;
  /** The supervisor's own messages ("x exited with code 1; restarting in 1 s"). */
  readonly log?: (message: string, service: SupervisedService) => void;
  readonly backoff?: BackoffOptions;
  /** How long {@link Supervisor.stop} waits after SIGTERM before SIGKILL. */
  readonly stopTimeoutMs?: number;
}

/** The running supervisor. */
export interface Supervisor {
  /** The pid of the service's current process; undefined while it is down. */
  pid(name: string): number | undefined;
  /** How many times the service has been started. */
  starts(name: string): number;
  /** Stops every child (SIGTERM, then SIGKILL after the timeout) and restarts none; idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/** The delay before restart number `failures` (1 for the first) in a row: doubling, capped. */
export function restartDelay(
  failures: number,
  backoff: Pick<BackoffOptions, 'initialMs' | 'maxMs'> = {},
): number {
  const initialMs = backoff.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const maxMs = backoff.maxMs ?? DEFAULT_BACKOFF.maxMs;
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
}

/** A process's exit as a shell reports it: killed by signal N is 128 + N (SIGKILL → 137). */
export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

interface Slot {
  readonly service: SupervisedService;
  child: ChildProcess | undefined;
  starts: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/** Starts every service now and keeps each one running until `stop()`. */
export function superviseProcesses(options: SupervisorOptions): Supervisor {
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const log = options.log ?? ((message: string) => console.error(message));
  const slots = new Map<string, Slot>(
    options.services.map((service) => [
      service.name,
      { service, child: undefined, starts: 0, failures: 0, restartTimer: undefined },
    ]),
  );
  let stopping: Promise<void> | undefined;

  function start(slot: Slot): void {
    slot.restartTimer = undefined;
    const { service } = slot;
    const startedAt = Date.now();
    const child = spawn(service.command, [...service.args], {
      cwd: service.cwd,
      env: service.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    slot.child = child;
    slot.starts += 1;
    options.onStart?.(service, child);

    let ended = false;
    const onEnd = (description: string) => {
      // 'error' (could not spawn) and 'exit' may both come; one restart.
      if (ended) return;
      ended = true;
      if (slot.child === child) slot.child = undefined;
      if (stopping) return;
      slot.failures = Date.now() - startedAt >= backoff.resetAfterMs ? 1 : slot.failures + 1;
      const delay = restartDelay(slot.failures, backoff);
      log(`${service.name} ${description}; restarting in ${seconds(delay)}`, service);
      slot.restartTimer = setTimeout(() => start(slot), delay);
    };
    child.on('exit', (code, signal) => onEnd(`exited with code ${exitCode(code, signal)}`));
    child.on('error', (error) => onEnd(`failed to start (${error.message})`));
  }

  async function stopAll(): Promise<void> {
    for (const slot of slots.values()) clearTimeout(slot.restartTimer);
    const running = [...slots.values()].flatMap((s) =>
      s.child ? [{ service: s.service, child: s.child }] : [],
    );
    const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
    const exited = running.map(({ child }) =>
      alive(child)
        ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
        : Promise.resolve(),
    );
    for (const { child } of running) child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), options.stopTimeoutMs ?? 15_000).unref(),
    );
    if ((await Promise.race([Promise.all(exited), timeout])) === 'timeout') {
      for (const { service, child } of running.filter(({ child }) => alive(child))) {
        log(`${service.name} did not stop in time; killing it`, service);
        child.kill('SIGKILL');
      }
      await Promise.all(exited);
    }
  }

  for (const slot of slots.values()) start(slot);

  return {
    pid: (name) => slots.get(name)?.child?.pid,
    starts: (name) => slots.get(name)?.starts ?? 0,
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
