/**
 * `npm run bench -- media`: the whole image pipeline against sharp alone.
 * The harness lives beside the worker it measures.
 */
export { description, main } from '../../workers/media/bench.js';
