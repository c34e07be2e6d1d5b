import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@arcadia/testing';
import {
  exitCode,
  restartDelay,
  superviseProcesses,
  type Supervisor,
  type SupervisorOptions,
} from '../lib/supervisor.js';
import { repoRoot } from '../build-references.js';

// Tiny children: node one-liners, so each test takes well under a second.
const node = (name: string, code: string) => ({
  name,
  command: process.execPath,
  args: ['-e', code],
});
const crasher = (name: string) => node(name, 'process.exit(1)');
const sleeper = (name: string) => node(name, 'setInterval(() => {}, 60_000)');
const FAST = { initialMs: 40, maxMs: 160, resetAfterMs: 60_000 };

const started: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

function supervise(options: Omit<SupervisorOptions, 'log'>) {
  const messages: string[] = [];
  const supervisor = superviseProcesses({
    backoff: FAST,
    ...options,
    log: (m) => messages.push(m),
  });
  started.push(supervisor);
  return { supervisor, messages };
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('restart delays', () => {
  it('double from the initial delay and stop at the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => restartDelay(n));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('report a child killed by a signal as a shell does', () => {
    expect(exitCode(null, 'SIGKILL')).toBe(137);
    expect(exitCode(3, null)).toBe(3);
  });
});

describe('the supervisor', () => {
  it('restarts a crashing child with a growing, capped back-off and says so', async () => {
    const { supervisor, messages } = supervise({ services: [crasher('crasher')] });
    await eventually(() => messages.length >= 5, { what: () => messages.join('\n') });
    expect(messages.slice(0, 5)).toEqual([
      'crasher exited with code 1; restarting in 0.04 s',
      'crasher exited with code 1; restarting in 0.08 s',
      'crasher exited with code 1; restarting in 0.16 s',
      'crasher exited with code 1; restarting in 0.16 s',
      'crasher exited with code 1; restarting in 0.16 s',
    ]);
    expect(supervisor.starts('crasher')).toBeGreaterThanOrEqual(5);
  });

  it('starts the back-off over for a child that had stayed up a while', async () => {
    const { messages } = supervise({
      services: [node('flaky', 'setTimeout(() => process.exit(2), 80)')],
      backoff: { ...FAST, resetAfterMs: 50 },
    });
    await eventually(() => messages.length >= 3, { what: () => messages.join('\n') });
    expect(new Set(messages.slice(0, 3))).toEqual(
      new Set(['flaky exited with code 2; restarting in 0.04 s']),
    );
  });

  it('brings back a child killed with kill -9 and leaves the others running', async () => {
    const { supervisor, messages } = supervise({
      services: [sleeper('media-worker'), sleeper('router')],
    });
    const killed = supervisor.pid('media-worker')!;
    const router = supervisor.pid('router')!;
    process.kill(killed, 'SIGKILL');
    await eventually(() => messages.length > 0, { what: 'the supervisor to report the exit' });
    expect(messages).toEqual(['media-worker exited with code 137; restarting in 0.04 s']);
    await eventually(() => supervisor.pid('media-worker'), { what: 'media-worker to be back' });
    expect(supervisor.pid('media-worker')).not.toBe(killed);
    expect(isAlive(supervisor.pid('media-worker')!)).toBe(true);
    expect(supervisor.pid('router')).toBe(router);
    expect(isAlive(router)).toBe(true);
  });

  it('stops every child on stop() and restarts none of them', async () => {
    const { supervisor, messages } = supervise({ services: [sleeper('a'), sleeper('b')] });
    // The control: a crasher under another supervisor, restarted meanwhile.
    const control = supervise({ services: [crasher('control')] });
    const pids = ['a', 'b'].map((name) => supervisor.pid(name)!);
    await supervisor.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    const controlStarts = control.supervisor.starts('control');
    // Longer than the stopped children's restart delay would have been.
    await eventually(() => control.supervisor.starts('control') > controlStarts + 1, {
      what: 'the control to be restarted twice',
    });
    expect(messages).toEqual([]);
    expect([supervisor.starts('a'), supervisor.starts('b')]).toEqual([1, 1]);
    expect([supervisor.pid('a'), supervisor.pid('b')]).toEqual([undefined, undefined]);
  });

  it('kills a child that ignores SIGTERM once the stop timeout is over', async () => {
    const { supervisor, messages } = supervise({
      services: [
        node(
          'stubborn',
          "process.on('SIGTERM', () => {}); setInterval(() => {}, 60_000); console.log('ready')",
        ),
      ],
      stopTimeoutMs: 200,
      onStart: (_service, child) => child.stdout!.once('data', () => (ready = true)),
    });
    let ready = false;
    // Its SIGTERM handler must be installed before stop() sends SIGTERM.
    await eventually(() => ready, { what: 'the stubborn child to be ready' });
    const pid = supervisor.pid('stubborn')!;
    await supervisor.stop();
    expect(isAlive(pid)).toBe(false);
    expect(messages).toEqual(['stubborn did not stop in time; killing it']);
  });
});

describe('npm run up', () => {
  it('stops on SIGTERM with every child and exit code 0', async () => {
    // The supervisor as up.ts wires it to the process' signals, with two sleepers.
    const script = `
      import { superviseProcesses } from ${JSON.stringify(join(repoRoot, 'scripts/lib/supervisor.ts'))};
      const s = superviseProcesses({ services: ['a', 'b'].map((name) => ({ name, command: process.execPath, args: ['-e', 'setInterval(() => {}, 60000)'] })) });
      process.on('SIGTERM', () => void s.stop().then(() => process.exit(0)));
      // Printed once the handler is in place: the test sends SIGTERM as soon as it reads this.
      console.log(JSON.stringify([s.pid('a'), s.pid('b')]));
    `;
    const up = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await new Promise<number[]>((resolve) =>
      up.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as number[])),
    );
    expect(pids.every(isAlive)).toBe(true);
    const exited = new Promise<number | string | null>((resolve) =>
      up.once('exit', (code, signal) => resolve(code ?? signal)),
    );
    up.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
