import type { Logger } from '@arcadia/observability';

/**
 * Runs `close` once on SIGTERM/SIGINT, then exits 0 (or 1 when closing
 * failed); a second signal exits at once, for the human pressing Ctrl-C twice.
 * Returns a function that runs the same shutdown by hand (e.g. after an
 * uncaught exception) with the given exit code.
 */
export function closeOnSignals(
  close: () => Promise<void>,
  logger: Logger,
): (reason: string, exitCode?: number) => void {
  let closing = false;
  const shutdown = (reason: string, exitCode = 0) => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ reason }, 'shutting down');
    close().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return shutdown;
}
