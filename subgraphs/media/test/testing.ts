/** The media test harness and operations, for the media worker's tests (`@arcadia/media/testing`). */
export * from './harness.js';
export * from './operations.js';
