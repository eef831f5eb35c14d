/**
 * Limit arguments of `job create evacuate` and `job update`: a positive integer, a byte rate
 * with a unit (`20MiB`, `500k`), or `unlimited`. A bad value names the option.
 */
import { InvalidArgumentError, Option } from 'commander';
import { LIMIT_NAMES, type LimitChanges, type LimitName } from '../api/limits.ts';
import { humanBytes } from './units.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * What `unlimited` parses to. Not null: commander stores a parser's null as `''`, and the
 * limit would be dropped (`job update --objects-per-second unlimited` then did nothing).
 */
export const UNLIMITED = 'unlimited';

/** `unlimited` (or `none`) → UNLIMITED; otherwise a positive integer, with a unit for bytes. */
export function parseLimit(
  option: string,
  bytes: boolean,
): (value: string) => number | typeof UNLIMITED {
  return (value) => {
    const text = value.trim().toLowerCase();
    if (text === 'unlimited' || text === 'none') return UNLIMITED;
    const match = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/.exec(text);
    const unit = match ? UNITS[match[2] ?? ''] : undefined;
    const n = match && unit !== undefined && (bytes || unit === 1) ? Number(match[1]) * unit : NaN;
    if (!Number.isSafeInteger(Math.round(n)) || Math.round(n) < 1) {
      throw new InvalidArgumentError(
        `${option}: ${JSON.stringify(value)} is not ${
          bytes ? 'a byte rate (e.g. 20MiB, 500k, 1048576)' : 'a positive integer'
        } or "unlimited"`,
      );
    }
    return Math.round(n);
  };
}

const FLAGS: Record<LimitName, { flag: string; help: string; bytes: boolean }> = {
  objects_per_second: {
    flag: '--objects-per-second <n>',
    help: 'objects posted to agents per second, or "unlimited"',
    bytes: false,
  },
  bytes_per_second: {
    flag: '--bytes-per-second <rate>',
    help: 'copy traffic per second (e.g. 20MiB), or "unlimited"',
    bytes: true,
  },
  metadata_updates_per_second: {
    flag: '--metadata-updates-per-second <n>',
    help: 'metadata updates per second per metadata shard, or "unlimited"',
    bytes: false,
  },
};

/** The limit options, to add to a command. */
export function limitOptions(): Option[] {
  return LIMIT_NAMES.map((name) => {
    const { flag, help, bytes } = FLAGS[name];
    return new Option(flag, help).argParser(parseLimit(flag.split(' ')[0] as string, bytes));
  });
}

/** The limits given on the command line (commander's camel-cased option values). */
export function limitsFrom(opts: Record<string, unknown>): LimitChanges {
  const out: LimitChanges = {};
  for (const name of LIMIT_NAMES) {
    const key = name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = opts[key];
    if (value === UNLIMITED) out[name] = null;
    else if (typeof value === 'number') out[name] = value;
  }
  return out;
}

/** `20 MiB/s`, `50/s`, `unlimited`: a limit as people read it. */
export function formatLimit(name: LimitName, value: number | null): string {
  if (value === null) return 'unlimited';
  return FLAGS[name].bytes ? `${humanBytes(value)}/s` : `${value}/s`;
}
