export * from './caller.js';
export * from './tokens.js';
export * from './internal.js';
export * from './keys.js';
export * from './revocations.js';
