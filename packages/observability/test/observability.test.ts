import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Counter, createLogger, createMetricsRegistry } from '../src/index.js';

describe('observability', () => {
  it('logs one JSON object per line with the service and no secrets', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'demo',
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    logger.info(
      {
        req: { headers: { authorization: 'Bearer secret-token' } },
        input: { password: 'hunter2' },
      },
      'hello',
    );
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ level: 'info', service: 'demo', msg: 'hello' });
    expect(lines[0]).not.toMatch(/secret-token|hunter2/);
  });

  it("keeps each server instance's metrics apart", async () => {
    const a = createMetricsRegistry('a');
    const b = createMetricsRegistry('b');
    new Counter({ name: 'jobs_total', help: 'jobs', registers: [a] }).inc(3);
    new Counter({ name: 'jobs_total', help: 'jobs', registers: [b] }).inc(1);
    expect(await a.metrics()).toMatch(/jobs_total\{service="a"\} 3/);
    expect(await b.metrics()).toMatch(/jobs_total\{service="b"\} 1/);
    expect(await a.metrics()).toMatch(/process_cpu_seconds_total/);
  });
});
