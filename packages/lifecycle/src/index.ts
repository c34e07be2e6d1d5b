/**
 * How every Arcadia process starts and stops: {@link runService} for the
 * router, every subgraph and every worker, and the probe server workers
 * answer `/health`, `/ready` and `/metrics` with.
 */
export * from './run-service.js';
export * from './signals.js';
export * from './probe-server.js';
