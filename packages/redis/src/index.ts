/**
 * Redis for every Arcadia process: connections that survive drops without
 * unhandled errors, and Lua scripts loaded from `.lua` files and run by SHA.
 */
export * from './connection.js';
export * from './scripts.js';
