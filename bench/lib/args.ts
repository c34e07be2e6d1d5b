/**
 * Minimal `--name value` / `--flag` option parsing for benchmarks, with typed
 * getters that reject unknown options so a typo does not silently run the
 * default benchmark.
 */
export interface OptionSpec {
  /** Shown by `--help`. */
  description: string;
  /** Default as text; undefined for flags. */
  default?: string;
  flag?: boolean;
}

export class Options {
  private readonly values = new Map<string, string | true>();

  constructor(
    argv: readonly string[],
    private readonly spec: Record<string, OptionSpec>,
  ) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
      let name = arg.slice(2);
      let value: string | true | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (name === 'help') {
        this.values.set('help', true);
        continue;
      }
      const s = spec[name];
      if (!s) throw new Error(`unknown option --${name}; try --help`);
      if (value === undefined) {
        if (s.flag) value = true;
        else {
          value = argv[++i];
          if (value === undefined) throw new Error(`--${name} needs a value`);
        }
      }
      this.values.set(name, value);
    }
  }

  get help(): boolean {
    return this.values.has('help');
  }

  usage(): string {
    return Object.entries(this.spec)
      .map(
        ([name, s]) =>
          `  --${name}${s.flag ? '' : ' <value>'}`.padEnd(28) +
          s.description +
          (s.default !== undefined ? ` (default: ${s.default})` : ''),
      )
      .join('\n');
  }

  string(name: string): string {
    const v = this.values.get(name) ?? this.spec[name]?.default;
    if (typeof v !== 'string') throw new Error(`--${name} is required`);
    return v;
  }

  number(name: string, { min = -Infinity, max = Infinity } = {}): number {
    const text = this.string(name);
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${name} must be a number in [${min}, ${max}], got "${text}"`);
    }
    return n;
  }

  /** A comma-separated list, each item one of `allowed`. */
  list<T extends string>(name: string, allowed: readonly T[]): T[] {
    const values = this.string(name)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const v of values) {
      if (!(allowed as readonly string[]).includes(v)) throw new Error(`unknown --${name} "${v}"`);
    }
    return values as T[];
  }

  flag(name: string): boolean {
    return this.values.get(name) === true || this.values.get(name) === 'true';
  }

  /** Every option with its effective value, for the results file. */
  effective(): Record<string, string | boolean> {
    const out: Record<string, string | boolean> = {};
    for (const [name, s] of Object.entries(this.spec)) {
      out[name] = s.flag ? this.flag(name) : this.string(name);
    }
    return out;
  }
}
