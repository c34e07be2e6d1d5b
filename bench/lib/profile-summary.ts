/**
 * Summarises a `.cpuprofile` (from `npm run bench -- chat --profile`): self
 * time by package and by function, in milliseconds and as a share of the
 * busy (non-idle) time.
 *
 *   npx tsx bench/lib/profile-summary.ts <file.cpuprofile> [--window send-phase.json] [--top 40]
 *
 * `--window` keeps only the samples taken between `startMicros` and
 * `endMicros` (CLOCK_MONOTONIC, the clock profile sample times are on), so
 * the chat process' whole-life profile can be read for the send phase only.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: its npm package, a path in this repository, or Node's own. */
function placeOf(url: string, functionName: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = path.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const repo = path.indexOf('/work/main/');
  if (repo >= 0) {
    const parts = path.slice(repo + '/work/main/'.length).split('/');
    // The workspace and its folder under src, e.g. subgraphs/chat/src/store.
    return parts.slice(0, Math.min(parts.length - 1, 4)).join('/');
  }
  if (path.startsWith('node:')) return 'node (built-in JS)';
  return path || functionName;
}

function main(argv: string[]): void {
  const file = argv[0];
  if (!file)
    throw new Error('usage: profile-summary.ts <file.cpuprofile> [--window w.json] [--top N]');
  const windowAt = argv.indexOf('--window');
  const topAt = argv.indexOf('--top');
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 40;
  const window =
    windowAt >= 0
      ? (JSON.parse(readFileSync(argv[windowAt + 1]!, 'utf8')) as {
          startMicros: number;
          endMicros: number;
        })
      : null;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));

  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let at = profile.startTime;
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.startMicros || at > window.endMicros)) continue;
    const frame = frames.get(profile.samples[i]!)!;
    if (frame.functionName === '(idle)') {
      idle += delta;
      continue;
    }
    busy += delta;
    const place = placeOf(frame.url, frame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + delta);
    const name = `${frame.functionName || '(anonymous)'}  ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
  }
  const show = (title: string, entries: Map<string, number>, n: number) => {
    console.log(`\n${title}\n   ms   % busy`);
    for (const [key, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      console.log(
        `${(micros / 1000).toFixed(0).padStart(6)} ${((100 * micros) / busy).toFixed(1).padStart(6)}  ${key}`,
      );
    }
  };
  console.log(
    `${file}${window ? ' (send phase)' : ''}: busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
  );
  show('self time by place', byPlace, 30);
  show('self time by function', byFunction, top);
}

main(process.argv.slice(2));
