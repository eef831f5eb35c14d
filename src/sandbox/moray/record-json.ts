/**
 * A record's JSON text built around the stored `_value` text, without parsing and re-stringifying
 * it: the fast path of getObject and findObjects. It applies only where the result is the JSON
 * that `JSON.stringify(rowToRecord(...))` gives (spec/protocols.md §2.4):
 *
 * - the row's etag is the CRC of its `_value`, i.e. the text is what putObject stored, which is
 *   `JSON.stringify` output (canonical: no whitespace, no duplicate members);
 * - the overlay of the index columns changes nothing: every indexed member is exactly the JSON of
 *   its column value (absent or null where the column is NULL), and none is an array kept over a
 *   scalar index (there the JS filter would see the array, not the column).
 *
 * Any other row returns undefined and goes through `rowToRecord`.
 */
import type { Row } from '../../db/index.ts';
import type { Bucket } from './buckets.ts';
import { morayEtag } from './etag.ts';
import { rowId } from './records.ts';
import { fromColumnValue } from './types.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACKET = 91;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;

/** Index just past the string starting at `start` (a quote), or -1. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the JSON value starting at `start`, or -1. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first === LBRACE || first === LBRACKET) {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = stringEnd(text, i);
        if (i < 0) return -1;
        continue;
      }
      if (c === LBRACE || c === LBRACKET) depth++;
      else if ((c === RBRACE || c === RBRACKET) && --depth === 0) return i + 1;
      i++;
    }
    return -1;
  }
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === RBRACE || c === RBRACKET) break;
    i++;
  }
  return i === start ? -1 : i;
}

/**
 * The text of the top-level members of a compact JSON object named in `wanted` (name → slot),
 * in `out` by slot. False when the text is not a compact JSON object.
 */
export function topLevelMembers(
  text: string,
  wanted: ReadonlyMap<string, number>,
  out: (string | undefined)[],
): boolean {
  if (text.charCodeAt(0) !== LBRACE) return false;
  if (text.charCodeAt(1) === RBRACE) return text.length === 2;
  let i = 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return false;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0 || text.charCodeAt(keyEnd) !== COLON) return false;
    let name = text.slice(i + 1, keyEnd - 1);
    if (name.includes('\\')) name = JSON.parse(text.slice(i, keyEnd)) as string;
    const start = keyEnd + 1;
    const end = valueEnd(text, start);
    if (end < 0) return false;
    const slot = wanted.get(name);
    if (slot !== undefined) out[slot] = text.slice(start, end);
    const next = text.charCodeAt(end);
    if (next === COMMA) {
      i = end + 1;
      continue;
    }
    return next === RBRACE && end + 1 === text.length;
  }
}

const slotsCache = new WeakMap<Bucket, ReadonlyMap<string, number>>();

function slotsOf(bucket: Bucket): ReadonlyMap<string, number> {
  let slots = slotsCache.get(bucket);
  if (!slots) {
    slots = new Map(bucket.fields.map((f, i) => [f.key, i]));
    slotsCache.set(bucket, slots);
  }
  return slots;
}

/** Whether overlaying the index columns onto the stored value would leave it as it is. */
function overlayIsIdentity(bucket: Bucket, row: Row, value: string): boolean {
  const fields = bucket.fields;
  if (fields.length === 0) return value.charCodeAt(0) === LBRACE;
  const members: (string | undefined)[] = new Array(fields.length);
  if (!topLevelMembers(value, slotsOf(bucket), members)) return false;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const member = members[i];
    const column = row[field.column];
    if (column === null || column === undefined) {
      if (member !== undefined && member !== 'null') return false;
      continue;
    }
    // An array kept over a scalar index never equals its (scalar) column's JSON: slow path.
    if (member !== JSON.stringify(fromColumnValue(field.type, column))) return false;
  }
  return true;
}

/**
 * The record of `row` as JSON text, or undefined when it must be built by parsing (see above).
 * `count` undefined leaves `_count` out (no_count).
 */
export function recordJson(
  bucket: Bucket,
  row: Row,
  count: number | null | undefined,
): string | undefined {
  const value = row._value;
  const etag = row._etag;
  const key = row._key;
  if (typeof value !== 'string' || typeof etag !== 'string' || typeof key !== 'string') {
    return undefined;
  }
  if (etag !== morayEtag(value) || !overlayIsIdentity(bucket, row, value)) return undefined;
  const id = rowId(bucket, row);
  const mtime = Number.parseInt(String(row._mtime), 10);
  const snap = JSON.stringify(row._txn_snap ?? null);
  const tail = count === undefined ? '}' : `,"_count":${JSON.stringify(count)}}`;
  return `{"bucket":${JSON.stringify(bucket.name)},"key":${JSON.stringify(key)},"value":${value},"_id":${id},"_etag":"${etag}","_mtime":${JSON.stringify(mtime)},"_txn_snap":${snap}${tail}`;
}
