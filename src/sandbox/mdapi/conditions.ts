/**
 * Request conditions as buckets-mdapi checks them (peers.md §3.3): against the current row
 * in the request's transaction, with the object's id as its etag, in the server's order
 * (if-match, if-unmodified-since, if-none-match, if-modified-since) and with its messages.
 */
import type { Conditions } from '../../mdapi/index.ts';
import { type MdapiAppError, objectNotFound, preconditionFailed } from './errors.ts';
import { formatTimestamp, rowMicros } from './rows.ts';

/** Conditions with each key in one spelling, timestamps parsed. */
export interface ParsedConditions {
  readonly ifMatch: readonly string[] | undefined;
  readonly ifNoneMatch: readonly string[] | undefined;
  readonly ifModifiedSince: Timestamp | undefined;
  readonly ifUnmodifiedSince: Timestamp | undefined;
}

interface Timestamp {
  readonly micros: bigint;
  /** As the server prints it: RFC 3339, UTC, `+00:00`. */
  readonly text: string;
}

/** What a condition is checked against: the row's id and modification time (row text). */
export interface ConditionTarget {
  readonly id: string;
  readonly modified: string;
}

const RFC3339_RE =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp, or undefined when it is not one (the request does not decode). */
function parseTimestamp(value: string): Timestamp | undefined {
  const m = RFC3339_RE.exec(value);
  if (!m) return undefined;
  const [, date, time, fraction = '', zone = 'Z'] = m;
  const seconds = Date.parse(`${date}T${time}${zone === 'z' ? 'Z' : zone}`);
  if (Number.isNaN(seconds)) return undefined;
  const micros = BigInt(seconds) * 1000n + BigInt(fraction.padEnd(6, '0').slice(0, 6) || '0');
  const utc = new Date(seconds).toISOString().slice(0, 19);
  const six = String(micros % 1_000_000n).padStart(6, '0');
  return { micros, text: formatTimestamp(`${utc}.${six}`, '+00:00') };
}

/** The conditions of a request, or the reason it does not decode. */
export function parseConditions(c: Conditions | undefined): ParsedConditions | string {
  const pick = <K extends keyof Conditions>(dash: K, underscore: K) => c?.[dash] ?? c?.[underscore];
  const time = (dash: keyof Conditions, underscore: keyof Conditions) => {
    const value = pick(dash, underscore);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') return 'not a timestamp';
    return parseTimestamp(value) ?? `invalid timestamp ${JSON.stringify(value)}`;
  };
  const modified = time('if-modified-since', 'if_modified_since');
  const unmodified = time('if-unmodified-since', 'if_unmodified_since');
  if (typeof modified === 'string') return modified;
  if (typeof unmodified === 'string') return unmodified;
  const list = (dash: keyof Conditions, underscore: keyof Conditions) => {
    const value = pick(dash, underscore);
    return Array.isArray(value) ? value : undefined;
  };
  return {
    ifMatch: list('if-match', 'if_match'),
    ifNoneMatch: list('if-none-match', 'if_none_match'),
    ifModifiedSince: modified,
    ifUnmodifiedSince: unmodified,
  };
}

/** An unconditional request's. */
export const NO_CONDITIONS: ParsedConditions = {
  ifMatch: undefined,
  ifNoneMatch: undefined,
  ifModifiedSince: undefined,
  ifUnmodifiedSince: undefined,
};

export function isConditional(c: ParsedConditions): boolean {
  return (
    c.ifMatch !== undefined ||
    c.ifNoneMatch !== undefined ||
    c.ifModifiedSince !== undefined ||
    c.ifUnmodifiedSince !== undefined
  );
}

const quoted = (etags: readonly string[]): string => etags.map((e) => `"${e}"`).join(', ');
const matches = (etag: string, etags: readonly string[]): boolean =>
  etags.some((e) => e === '*' || e === etag);

/** The error the conditions give for `object` (undefined: none exists), or undefined. */
export function checkConditions(
  c: ParsedConditions,
  object: ConditionTarget | undefined,
): MdapiAppError | undefined {
  if (object === undefined) {
    if (c.ifMatch?.includes('*')) {
      return preconditionFailed(`if-match '${quoted(c.ifMatch)}' matched a non-existent object`);
    }
    if (c.ifNoneMatch?.includes('*')) return undefined;
    return objectNotFound();
  }
  const etag = object.id;
  const modified = rowMicros(object.modified);
  const modifiedText = formatTimestamp(object.modified, '+00:00');
  if (c.ifMatch !== undefined && !matches(etag, c.ifMatch)) {
    return preconditionFailed(`if-match '${quoted(c.ifMatch)}' didn't match etag '${etag}'`);
  }
  if (c.ifUnmodifiedSince !== undefined && modified > c.ifUnmodifiedSince.micros) {
    return preconditionFailed(
      `object was modified at '${modifiedText}'; if-unmodified-since '${c.ifUnmodifiedSince.text}'`,
    );
  }
  if (c.ifNoneMatch !== undefined && matches(etag, c.ifNoneMatch)) {
    return preconditionFailed(`if-none-match '${quoted(c.ifNoneMatch)}' matched etag '${etag}'`);
  }
  if (c.ifModifiedSince !== undefined && modified <= c.ifModifiedSince.micros) {
    return preconditionFailed(
      `object was modified at '${modifiedText}'; if-modified-since '${c.ifModifiedSince.text}'`,
    );
  }
  return undefined;
}
