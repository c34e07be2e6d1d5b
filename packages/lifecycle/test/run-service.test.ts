import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@arcadia/testing';

const fixture = fileURLToPath(new URL('./fixtures/service.ts', import.meta.url));

interface Started {
  child: ChildProcess;
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const parts = out.split('\n');
    out = parts.pop()!;
    for (const line of parts) if (line.startsWith('{')) lines.push(JSON.parse(line));
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, lines, stderr: () => err, exited };
}

async function listening(s: Started): Promise<string> {
  const line = await eventually(() => s.lines.find((l) => l.msg === 'fixture listening'), 15_000);
  return line.url as string;
}

describe('runService', () => {
  it('listens on PORT with health, readiness and metrics, and on SIGTERM drains before exiting 0', async () => {
    const s = start({ FIXTURE_MODE: 'ok' });
    const url = await listening(s);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(await (await fetch(`${url}/ready`)).json()).toEqual({
      status: 'ready',
      service: 'fixture',
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total{service="fixture"}');
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    const messages = s.lines.map((l) => l.msg);
    expect(messages.indexOf('shutting down')).toBeLessThan(messages.indexOf('drained'));
  });

  it('serves /metrics on METRICS_PORT, on 127.0.0.1 unless METRICS_HOST says otherwise', async () => {
    const s = start({ FIXTURE_MODE: 'ok', METRICS_PORT: '0' });
    await listening(s);
    const line = await eventually(() => s.lines.find((l) => l.msg === 'fixture metrics listening'));
    const metricsUrl = new URL(line.url as string);
    expect(metricsUrl).toMatchObject({ hostname: '127.0.0.1', pathname: '/metrics' });
    expect(await (await fetch(metricsUrl)).text()).toContain(
      'process_cpu_user_seconds_total{service="fixture"}',
    );
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('answers 503 on /ready while a dependency is down, and 200 on /health', async () => {
    const s = start({ FIXTURE_MODE: 'not-ready' });
    const url = await listening(s);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(503);
  });

  it('reports every configuration problem at once and exits 1 without starting', async () => {
    const s = start({ FIXTURE_MODE: 'sometimes', PORT: 'eighty', FIXTURE_DRAIN_MS: '-1' });
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toContain('Invalid configuration for fixture');
    for (const name of ['FIXTURE_MODE', 'PORT', 'FIXTURE_DRAIN_MS'])
      expect(s.stderr()).toContain(`${name}:`);
    expect(s.lines.find((l) => l.msg === 'fixture listening')).toBeUndefined();
  });

  it('exits 1 with a fatal log line when start-up fails', async () => {
    const s = start({ FIXTURE_MODE: 'fail-start' });
    expect(await s.exited).toBe(1);
    expect(s.lines).toContainEqual(
      expect.objectContaining({ level: 'fatal', msg: 'fixture failed to start' }),
    );
  });

  it('logs a stray promise rejection and keeps serving', async () => {
    const s = start({ FIXTURE_MODE: 'reject' });
    const url = await listening(s);
    await eventually(() => s.lines.find((l) => l.msg === 'unhandled promise rejection'));
    expect((await fetch(`${url}/health`)).status).toBe(200);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
