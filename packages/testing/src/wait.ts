/** How long {@link eventually} waits, and what its error says when it gives up. */
export interface EventuallyOptions {
  /** Give up after this long (10 s by default). */
  timeoutMs?: number;
  /** Time between checks (20 ms by default). */
  intervalMs?: number;
  /**
   * What was waited for, for the error on timeout. A function is called at
   * that moment, so the error can show what had arrived instead.
   */
  what?: string | (() => string);
}

/**
 * Polls `check` until it returns something truthy and resolves to that; throws
 * after the timeout. For what becomes true asynchronously (a job run, an
 * event delivered, a key expired), without sleeping a fixed time. The second
 * argument is the timeout in ms or {@link EventuallyOptions}.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: number | EventuallyOptions = {},
  intervalMs?: number,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const settings = typeof options === 'number' ? { timeoutMs: options, intervalMs } : options;
  const timeoutMs = settings.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) {
      const what = typeof settings.what === 'function' ? settings.what() : settings.what;
      throw new Error(
        what ? `not in time (${timeoutMs} ms): ${what}` : 'condition not met in time',
      );
    }
    await new Promise((r) => setTimeout(r, settings.intervalMs ?? 20));
  }
}
