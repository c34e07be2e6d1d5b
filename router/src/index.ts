/**
 * @arcadia/router as a library: build a router for any federation 2
 * supergraph (tests, embedding). The process entry point is `main.ts`.
 */
export { createRouter, type Router, type RouterDeps } from './server.js';
export { parseRouterEnv, type RouterConfig } from './env.js';
export type { RouterContext, RequestRecord } from './request-context.js';
export { RedisKeyValueCache } from './redis-cache.js';
