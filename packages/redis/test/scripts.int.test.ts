import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '@arcadia/testing';
import { defineScripts, luaScript } from '../src/index.js';

// A Redis of this file's own: the test flushes its script cache and reads
// its command statistics, which other files on the shared server would disturb.
let server: PrivateRedis;
let redis: Redis;
let dir: string;

beforeAll(async () => {
  server = await startPrivateRedis({ args: ['--appendonly', 'no'] });
  redis = new Redis(server.url);
  dir = await mkdtemp(join(tmpdir(), 'arcadia-lua-'));
}, 30_000);

afterAll(async () => {
  await redis?.quit();
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await redis.flushdb();
  await redis.config('RESETSTAT');
});

let files = 0;
/** Writes `lua` to a new file and returns its URL. */
async function luaFile(lua: string): Promise<URL> {
  const path = join(dir, `script-${++files}.lua`);
  await writeFile(path, lua);
  return pathToFileURL(path);
}

const ADD = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

/** How many times the server ran `command` since the last RESETSTAT. */
async function calls(command: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

describe('lua scripts', () => {
  it('runs a script from its file by SHA, sending the source once per connection', async () => {
    const add = luaScript<number>(await luaFile(ADD), { keys: 1 });
    const scripts = defineScripts(redis, { add });
    for (let i = 1; i <= 5; i++) expect(await scripts.add(['counter'], [1])).toBe(i);
    expect(await calls('eval')).toBe(1);
    expect(await calls('evalsha')).toBe(4);
    expect(await redis.script('EXISTS', add.sha)).toEqual([1]);
  });

  it('reads the file once, when the script is defined', async () => {
    const file = await luaFile(ADD);
    const add = luaScript<number>(file, { keys: 1 });
    await writeFile(file, 'return -1');
    const scripts = defineScripts(redis, { add });
    expect(await scripts.add(['counter'], [7])).toBe(7);
    // The shape of the brief (`{ file, keys }`) reads the file as it is now.
    const fresh = defineScripts(redis, { minusOne: { file, keys: 0 } });
    expect(await fresh.minusOne([])).toBe(-1);
  });

  it('recovers after SCRIPT FLUSH, called alone and in a pipeline', async () => {
    const scripts = defineScripts(redis, {
      add: luaScript<number>(await luaFile(ADD), { keys: 1 }),
    });
    expect(await scripts.add(['counter'], [1])).toBe(1);

    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', scripts.add.script.sha)).toEqual([0]);
    expect(await scripts.add(['counter'], [1])).toBe(2);
    expect(await redis.script('EXISTS', scripts.add.script.sha)).toEqual([1]);

    await redis.script('FLUSH');
    const pipeline = redis.pipeline();
    scripts.add.queue(pipeline, ['counter'], [1]);
    scripts.add.queue(pipeline, ['other'], [5]);
    expect(await pipeline.exec()).toEqual([
      [null, 3],
      [null, 5],
    ]);
    expect(await redis.mget('counter', 'other')).toEqual(['3', '5']);
  });

  it('keeps scripts of several modules on one client apart', async () => {
    const first = defineScripts(redis, {
      run: luaScript<string>(await luaFile("return 'first'"), { keys: 0 }),
    });
    const second = defineScripts(redis, {
      run: luaScript<string>(await luaFile("return 'second'"), { keys: 0 }),
    });
    expect([await first.run([]), await second.run([])]).toEqual(['first', 'second']);
  });

  it("rejects with the script's own error, and refuses a call with the wrong number of keys", async () => {
    const scripts = defineScripts(redis, {
      fail: luaScript(await luaFile("return redis.error_reply('ERR no luck')"), { keys: 0 }),
      add: luaScript<number>(await luaFile(ADD), { keys: 1 }),
    });
    await expect(scripts.fail([])).rejects.toThrow('no luck');
    await expect(scripts.add(['a', 'b'], [1])).rejects.toThrow(TypeError);
    expect(await redis.exists('a', 'b')).toBe(0);
  });
});
