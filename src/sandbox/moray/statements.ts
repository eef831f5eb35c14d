/**
 * The SQL of one bucket's object RPCs, built once per bucket config (the config object is
 * replaced whenever a bucket RPC invalidates the cache, so a WeakMap keyed by it stays right).
 * Every write is one statement (atomic on its own), so an RPC outside a batch costs one round
 * trip in the common case.
 */
import type { Bucket } from './buckets.ts';

export interface Statements {
  /** $1 key, $2 value, $3 etag, $4 mtime, $5 vnode, $6.. index columns; unconditional upsert. */
  upsert: string;
  /** Same parameters; inserts only when the key is absent (`etag: null`). */
  insertIfAbsent: string;
  /** Same parameters plus the expected etag last; updates only when the etag matches. */
  updateIfEtag: string;
  select: string;
  selectEtag: string;
  delete: string;
  deleteIfEtag: string;
}

const cache = new WeakMap<Bucket, Statements>();

export function statementsFor(bucket: Bucket): Statements {
  let s = cache.get(bucket);
  if (s !== undefined) return s;
  const b = bucket.name;
  const columns = [
    '_key',
    '_value',
    '_etag',
    '_mtime',
    '_vnode',
    ...bucket.fields.map((f) => f.column),
  ];
  const params = columns.map((_, i) => `$${i + 1}`);
  const insert = `INSERT INTO ${b} (${columns.join(', ')}) VALUES (${params.join(', ')})`;
  const assignments = columns.slice(1);
  s = {
    upsert: `${insert} ON CONFLICT (_key) DO UPDATE SET ${assignments.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`,
    insertIfAbsent: `${insert} ON CONFLICT (_key) DO NOTHING RETURNING _id`,
    updateIfEtag: `UPDATE ${b} SET ${assignments.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE _key = $1 AND _etag = $${columns.length + 1} RETURNING _id`,
    select: `SELECT * FROM ${b} WHERE _key = $1`,
    selectEtag: `SELECT _etag FROM ${b} WHERE _key = $1`,
    delete: `DELETE FROM ${b} WHERE _key = $1 RETURNING _id, _etag`,
    deleteIfEtag: `DELETE FROM ${b} WHERE _key = $1 AND _etag = $2 RETURNING _id, _etag`,
  };
  cache.set(bucket, s);
  return s;
}
