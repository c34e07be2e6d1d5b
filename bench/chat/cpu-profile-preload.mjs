/**
 * Preloaded into the chat process by `npm run bench -- chat --profile`
 * (`NODE_OPTIONS=--import …`): Node 20 refuses `--cpu-prof` in NODE_OPTIONS,
 * and the test harness spawns the child with fixed arguments, so this does
 * what `--cpu-prof` would: profiles the whole process life and writes the
 * profile to `BENCH_CPU_PROFILE` when it exits. The main-thread inspector
 * session answers synchronously, so this works inside the `exit` event.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import process from 'node:process';

const target = process.env.BENCH_CPU_PROFILE;
if (target) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) process.stderr.write(`cpu profile not written: ${String(error)}\n`);
      else writeFileSync(target, JSON.stringify(result.profile));
    });
  });
}
