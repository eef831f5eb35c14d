/**
 * Reading config.json's values: each read names the key's dotted path in its error, so a bad
 * value is refused saying which key, never replaced by a silent default (manager.md §13.12).
 */
import { RebalancerError } from '../errors.ts';

/** A config value that is missing or invalid; `key` is its dotted path. */
export class ConfigError extends RebalancerError {
  override readonly name = 'ConfigError';
  readonly code = 'config_invalid';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config key "${key}": ${message}`);
  }
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Reader {
  constructor(
    private readonly obj: Json,
    private readonly prefix: string,
  ) {}
  private key(k: string): string {
    return this.prefix === '' ? k : `${this.prefix}.${k}`;
  }
  /** The dotted path of `k`. */
  path(k: string): string {
    return this.key(k);
  }
  int(k: string, def: number | undefined, min: number, max: number): number {
    const v = this.obj[k];
    if (v === undefined) {
      if (def === undefined) throw new ConfigError(this.key(k), 'is required');
      return def;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(
        this.key(k),
        `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }
  /** An integer in min..max, or null (absent or null: `null`, e.g. unlimited). */
  intOrNull(k: string, min: number, max: number): number | null {
    return this.obj[k] === undefined || this.obj[k] === null ? null : this.int(k, 0, min, max);
  }
  bool(k: string, def: boolean): boolean {
    const v = this.obj[k];
    if (v === undefined) return def;
    if (typeof v !== 'boolean')
      throw new ConfigError(this.key(k), `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  str(k: string, def: string | undefined): string | undefined {
    const v = this.obj[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string')
      throw new ConfigError(this.key(k), `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }
  strings(k: string, def: string[]): string[] {
    const v = this.obj[k];
    if (v === undefined || v === null) return def;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw new ConfigError(this.key(k), 'must be an array of strings');
    }
    return v as string[];
  }
  /** A list of non-empty strings, each passing `valid` (described by `what`). */
  names(k: string, what: string, valid: (s: string) => boolean): string[] {
    const list = this.strings(k, []);
    list.forEach((s, i) => {
      if (s === '' || !valid(s)) {
        throw new ConfigError(`${this.key(k)}[${i}]`, `must be ${what}, got ${JSON.stringify(s)}`);
      }
    });
    return list;
  }
  hosts(k: string, required: boolean): { host: string }[] {
    const v = this.obj[k];
    if (v === undefined && !required) return [];
    if (!Array.isArray(v)) throw new ConfigError(this.key(k), 'must be an array of {"host": ...}');
    return v.map((e, i) => {
      if (!isObject(e) || typeof e.host !== 'string' || e.host === '') {
        throw new ConfigError(`${this.key(k)}[${i}].host`, 'must be a non-empty string');
      }
      return { host: e.host };
    });
  }
  sub(k: string): Reader {
    const v = this.obj[k];
    if (v === undefined || v === null) return new Reader({}, this.key(k));
    if (!isObject(v)) throw new ConfigError(this.key(k), 'must be an object');
    return new Reader(v, this.key(k));
  }
}
