export * from './ids.js';
export * from './postgres.js';
export * from './supergraph.js';
export * from './child-subgraph.js';
export * from './wait.js';
export * from './harness.js';
export * from './responses.js';
export * from './redis-server.js';
