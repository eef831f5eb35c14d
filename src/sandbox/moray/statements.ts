/**
 * The SQL of one bucket's object RPCs, built once per bucket config (the config object is
 * replaced whenever a bucket RPC invalidates the cache, so a WeakMap keyed by it stays right).
 * Every write is one statement (atomic on its own), so an RPC outside a batch costs one round
 * trip in the common case. Each statement is prepared once per connection under a name derived
 * from its text and the column types, so a changed bucket config never meets an old plan.
 */
import { createHash } from 'node:crypto';
import type { Bucket } from './buckets.ts';

export interface Statement {
  readonly text: string;
  /** Prepared-statement name: unique to this text and these column types. */
  readonly name: string;
}

export interface Statements {
  /** `INSERT INTO <bucket> (<columns of upsert>)`, for multi-row inserts. */
  insertPrefix: string;
  /** $1 key, $2 value, $3 etag, $4 mtime, $5 vnode, $6.. index columns; unconditional upsert. */
  upsert: Statement;
  /** Same parameters; inserts only when the key is absent (`etag: null`). */
  insertIfAbsent: Statement;
  /** Same parameters plus the expected etag last; updates only when the etag matches. */
  updateIfEtag: Statement;
  /** The columns a record is built of (records.ts), listed so the result shape is fixed. */
  select: Statement;
  selectEtag: Statement;
  delete: Statement;
  deleteIfEtag: Statement;
}

const cache = new WeakMap<Bucket, Statements>();

export function statementsFor(bucket: Bucket): Statements {
  let s = cache.get(bucket);
  if (s !== undefined) return s;
  const b = bucket.name;
  const types = bucket.fields.map((f) => `${f.column}:${f.type.name}`).join(',');
  const named = (text: string): Statement => ({
    text,
    name: `moray_${createHash('sha1').update(`${types}\n${text}`).digest('hex').slice(0, 24)}`,
  });
  const indexColumns = bucket.fields.map((f) => f.column);
  const columns = ['_key', '_value', '_etag', '_mtime', '_vnode', ...indexColumns];
  const params = columns.map((_, i) => `$${i + 1}`);
  const insertPrefix = `INSERT INTO ${b} (${columns.join(', ')})`;
  const insert = `${insertPrefix} VALUES (${params.join(', ')})`;
  const assignments = columns.slice(1);
  const recordColumns = ['_id', '_key', '_value', '_etag', '_mtime', '_txn_snap', ...indexColumns];
  s = {
    insertPrefix,
    upsert: named(
      `${insert} ON CONFLICT (_key) DO UPDATE SET ${assignments.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`,
    ),
    insertIfAbsent: named(`${insert} ON CONFLICT (_key) DO NOTHING RETURNING _id`),
    updateIfEtag: named(
      `UPDATE ${b} SET ${assignments.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE _key = $1 AND _etag = $${columns.length + 1} RETURNING _id`,
    ),
    select: named(`SELECT ${recordColumns.join(', ')} FROM ${b} WHERE _key = $1`),
    selectEtag: named(`SELECT _etag FROM ${b} WHERE _key = $1`),
    delete: named(`DELETE FROM ${b} WHERE _key = $1 RETURNING _id, _etag`),
    deleteIfEtag: named(`DELETE FROM ${b} WHERE _key = $1 AND _etag = $2 RETURNING _id, _etag`),
  };
  cache.set(bucket, s);
  return s;
}
