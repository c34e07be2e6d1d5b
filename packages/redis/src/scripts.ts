/**
 * Lua scripts kept in `.lua` files (a `lua/` folder at the package root) and
 * run by SHA. Each file is read once, when its module is loaded; calls go
 * through ioredis' `defineCommand`, which sends the source with EVAL only the
 * first time a connection runs the script and EVALSHA after that, and falls
 * back to EVAL by itself when the server answers NOSCRIPT (after SCRIPT
 * FLUSH, a restart or a failover), in pipelines too. So no call re-sends a
 * whole script, and nothing breaks when the server forgets one.
 *
 * ```ts
 * // src/presence.ts: `../lua/` is the package's lua folder, from src/ and dist/ alike.
 * const TOUCH = luaScript<number>(new URL('../lua/touch.lua', import.meta.url), { keys: 2 });
 * const scripts = defineScripts(redis, { touch: TOUCH });
 * await scripts.touch([socketsKey, seenKey], [ttlMs, socketId]);
 * ```
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

/** A value a script takes in ARGV. */
export type ScriptArg = string | number | Buffer;

declare const replyType: unique symbol;

/** A Lua script as read from its file; {@link defineScripts} binds it to a client. */
export interface LuaScript<TReply = unknown> {
  /** The file it was read from. */
  readonly file: URL;
  /** The source, as read once. */
  readonly lua: string;
  /** SHA-1 of the source: what EVALSHA runs it by. */
  readonly sha: string;
  /** How many KEYS every call passes; the rest of a call's arguments are ARGV. */
  readonly keys: number;
  /** True when the script only reads (ioredis may then send it to a replica). */
  readonly readOnly: boolean;
  /** Type only, never set: what the script returns. */
  readonly [replyType]?: TReply;
}

/** Where a script's source is and how it is called. */
export interface ScriptFile {
  /** The `.lua` file, e.g. `new URL('../lua/touch.lua', import.meta.url)`. */
  readonly file: URL;
  /** How many KEYS every call passes. */
  readonly keys: number;
  /** True when the script only reads. */
  readonly readOnly?: boolean;
}

/**
 * Reads a `.lua` file now: call it at module level, so each file is read
 * once per process, at start-up, and a missing file fails the start rather
 * than the first call. `TReply` is what the script returns (as ioredis
 * decodes it: integers as numbers, bulk strings as strings, nil as null).
 */
export function luaScript<TReply = unknown>(
  file: URL,
  options: { keys: number; readOnly?: boolean },
): LuaScript<TReply> {
  if (!Number.isInteger(options.keys) || options.keys < 0) {
    throw new RangeError(`lua script ${file.pathname}: keys must be a whole number`);
  }
  const lua = readFileSync(file, 'utf8');
  return Object.freeze({
    file,
    lua,
    sha: createHash('sha1').update(lua).digest('hex'),
    keys: options.keys,
    readOnly: options.readOnly ?? false,
  });
}

/** One script bound to one client. */
export interface ScriptCaller<TReply = unknown> {
  /**
   * Runs the script with these KEYS (exactly {@link LuaScript.keys} of them)
   * and ARGV. Errors the script raises reject the promise.
   */
  (keys: readonly string[], args?: readonly ScriptArg[]): Promise<TReply>;
  /**
   * Adds a run to a pipeline of the same client, made after
   * {@link defineScripts}; its reply comes with the pipeline's `exec()`.
   * Not for MULTI: a NOSCRIPT there is retried outside the transaction.
   */
  queue(
    pipeline: ChainableCommander,
    keys: readonly string[],
    args?: readonly ScriptArg[],
  ): ChainableCommander;
  /** The script it runs. */
  readonly script: LuaScript<TReply>;
}

type ReplyOf<S> = S extends LuaScript<infer R> ? R : unknown;

/** The callers {@link defineScripts} returns, one per script, under the names given. */
export type ScriptCallers<T extends Record<string, LuaScript<unknown> | ScriptFile>> = {
  readonly [K in keyof T]: ScriptCaller<ReplyOf<T[K]>>;
};

/** A command ioredis' defineCommand added: a promise on a client, the pipeline on a pipeline. */
type Defined = (...keysThenArgs: unknown[]) => unknown;

/**
 * Binds scripts to `redis` (a client the caller owns, which may be shared:
 * commands are named after each script's SHA, so two modules defining
 * scripts on one client never clash). Give what {@link luaScript} read at
 * module load, or `{ file, keys }` to read the file now.
 */
export function defineScripts<const T extends Record<string, LuaScript<unknown> | ScriptFile>>(
  redis: Redis | Cluster,
  scripts: T,
): ScriptCallers<T> {
  const callers: Record<string, ScriptCaller> = {};
  for (const [name, definition] of Object.entries(scripts)) {
    const script: LuaScript =
      'lua' in definition ? definition : luaScript(definition.file, definition);
    const command = `lua:${script.sha}`;
    redis.defineCommand(command, {
      lua: script.lua,
      numberOfKeys: script.keys,
      readOnly: script.readOnly,
    });
    const argv = (keys: readonly string[], args: readonly ScriptArg[]) => {
      if (keys.length !== script.keys) {
        throw new TypeError(
          `lua script ${name} takes ${script.keys} keys, was given ${keys.length}`,
        );
      }
      return [...keys, ...args];
    };
    const run = (redis as unknown as Record<string, Defined>)[command]!;
    const queue = (
      pipeline: ChainableCommander,
      keys: readonly string[],
      args: readonly ScriptArg[] = [],
    ) => {
      // A pipeline copies the client's scripts when it is made.
      const queued = (pipeline as unknown as Record<string, Defined | undefined>)[command];
      if (typeof queued !== 'function') {
        throw new Error(
          `lua script ${name}: the pipeline was made before defineScripts, or on another client`,
        );
      }
      queued.apply(pipeline, argv(keys, args));
      return pipeline;
    };
    callers[name] = Object.assign(
      // Async, so a call with the wrong keys rejects like any other failed call.
      async (keys: readonly string[], args: readonly ScriptArg[] = []) =>
        await (run.apply(redis, argv(keys, args)) as Promise<unknown>),
      { queue, script },
    );
  }
  return callers as ScriptCallers<T>;
}
