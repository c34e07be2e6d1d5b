/**
 * Reading redis-server flags where Redis is configured (services.sh,
 * docker-compose.yml), for the tests that hold those places to agree.
 */
import { expect } from 'vitest';

/** `--name value` pairs of a redis-server argument list. */
export function flags(args: string[]): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!;
    expect(name, `expected --name value pairs in ${args.join(' ')}`).toMatch(/^--/);
    pairs[name.slice(2)] = args[i + 1]!;
  }
  return pairs;
}

/**
 * The flags of the one-line bash array `name=(…)` of `script` (services.sh),
 * with its `"…"` words unquoted and each lone `$VAR` at the default the
 * script gives it (`VAR="${VAR:-default}"`).
 */
export function servicesArrayFlags(script: string, name: string): Record<string, string> {
  const defaults = new Map(
    [...script.matchAll(/^(\w+)="\$\{\1:-([^}]*)\}"$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const line = new RegExp(`^${name}=\\((.*)\\)$`, 'm').exec(script);
  expect(line, `${name}=(…) in services.sh`).not.toBeNull();
  const words = line![1]!.match(/"[^"]*"|\S+/g) ?? [];
  return flags(
    words.map((w) =>
      w
        .replace(/^"(.*)"$/, '$1')
        .replace(/^\$(\w+)$/, (_, variable: string) => defaults.get(variable) ?? `$${variable}`),
    ),
  );
}
