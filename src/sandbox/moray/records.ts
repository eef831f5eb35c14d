/**
 * Object records as Moray returns them (spec/protocols.md §2.4): the stored JSON overlaid with
 * the index columns, plus `_id`, `_etag`, `_mtime`, `_txn_snap` and `_count`.
 */
import type { Row } from '../../db/index.ts';
import type { Bucket } from './buckets.ts';
import { internal } from './errors.ts';
import { fromColumnValue } from './types.ts';

export interface MorayRecord {
  bucket: string;
  key: string;
  value: Record<string, unknown>;
  _id: number;
  _etag: string;
  _mtime: number;
  _txn_snap: number | null;
  _count?: number | null;
}

/** The record id of a row; fails the RPC when JSON cannot carry it exactly. */
export function rowId(bucket: Bucket, row: Row): number {
  const id = Number(row._id);
  // Moray fails the RPC rather than send an id JSON cannot carry exactly.
  if (!Number.isSafeInteger(id)) {
    throw internal(`invalid "_id" value (bucket "${bucket.name}"; key "${String(row._key)}")`);
  }
  return id;
}

/** Builds the record of a table row; `count` undefined leaves `_count` out (no_count). */
export function rowToRecord(
  bucket: Bucket,
  row: Row,
  count: number | null | undefined,
): MorayRecord {
  const value = JSON.parse(row._value as string) as Record<string, unknown>;
  for (const field of bucket.fields) {
    const column = row[field.column];
    if (column === null || column === undefined) {
      if (value[field.key] !== null) delete value[field.key];
    } else if (Array.isArray(value[field.key])) {
      // A scalar index over an array member stores "a,b": keep the original array.
      if (field.type.array) value[field.key] = fromColumnValue(field.type, column);
    } else {
      value[field.key] = fromColumnValue(field.type, column);
    }
  }
  const record: MorayRecord = {
    bucket: bucket.name,
    key: row._key as string,
    value,
    _id: rowId(bucket, row),
    _etag: row._etag as string,
    _mtime: Number.parseInt(String(row._mtime), 10),
    _txn_snap: (row._txn_snap as number | null | undefined) ?? null,
  };
  if (count !== undefined) record._count = count;
  return record;
}
