/**
 * Between `manta_bucket_object` rows and the wire: the select list that reads a row in the
 * reply's terms (base64 digest, hstore as JSON with its NULLs, timestamps as text with
 * microseconds), the reply built from it, and the parameters that write hstore and
 * `sharks text[]` columns.
 */
import { Compile } from 'typebox/compile';
import type { Row } from '../../db/index.ts';
import { storageNodeFromText, storageNodeToText } from '../../manta/buckets.ts';
import { Hstore, type ObjectResponse, type StorageNodeIdentifier } from '../../mdapi/index.ts';

const ts = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ${column}`;

/** The columns of a reply, for SELECT and RETURNING. */
export const OBJECT_SELECT = [
  'id',
  'owner',
  'bucket_id',
  'name',
  ts('created'),
  ts('modified'),
  'content_length',
  "encode(content_md5, 'base64') AS content_md5",
  'content_type',
  'hstore_to_json(headers) AS headers',
  'sharks',
  'properties',
].join(', ');

/**
 * A timestamp as the server's serialiser writes it: UTC, fraction of 0, 3 or 6 digits as
 * its precision needs, and `suffix` (`Z` in replies, `+00:00` in condition messages).
 */
export function formatTimestamp(text: string, suffix = 'Z'): string {
  const [seconds, fraction = ''] = text.split('.');
  const micros = fraction.padEnd(6, '0');
  if (/^0+$/.test(micros)) return `${seconds}${suffix}`;
  const digits = micros.endsWith('000') ? micros.slice(0, 3) : micros;
  return `${seconds}.${digits}${suffix}`;
}

/** Microseconds since the epoch of a row's timestamp text (`YYYY-MM-DDTHH:MM:SS.ffffff`). */
export function rowMicros(text: string): bigint {
  const [seconds, fraction = ''] = text.split('.');
  return BigInt(Date.parse(`${seconds}Z`)) * 1000n + BigInt(fraction.padEnd(6, '0') || '0');
}

const hstore = Compile(Hstore);

function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new TypeError(`column ${column} is not text`);
  return value;
}

/** The reply for a row read with OBJECT_SELECT. */
export function objectResponse(row: Row): ObjectResponse {
  const sharks = Array.isArray(row.sharks) ? row.sharks : [];
  const headers = row.headers;
  // A NULL hstore (no row the stand-in writes has one) reads as no headers.
  return {
    id: text(row, 'id'),
    owner: text(row, 'owner'),
    bucket_id: text(row, 'bucket_id'),
    name: text(row, 'name'),
    created: formatTimestamp(text(row, 'created')),
    modified: formatTimestamp(text(row, 'modified')),
    content_length: Number(row.content_length),
    content_md5: text(row, 'content_md5').replaceAll('\n', ''),
    content_type: text(row, 'content_type'),
    headers: hstore.Check(headers) ? headers : {},
    sharks: sharks.map((s) => storageNodeFromText(String(s))),
    properties: row.properties ?? null,
  };
}

/** hstore(keys, values): the parameters of a headers map, NULL values kept. */
export function hstoreParams(
  headers: Readonly<Record<string, string | null>>,
): [string[], (string | null)[]] {
  return [Object.keys(headers), Object.values(headers)];
}

export function sharksParam(sharks: readonly StorageNodeIdentifier[]): string[] {
  return sharks.map(storageNodeToText);
}

/** A jsonb parameter: JSON text, or NULL for an absent or null value. */
export function jsonbParam(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
