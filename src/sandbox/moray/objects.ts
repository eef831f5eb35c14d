/**
 * Moray's object RPCs over the PostgreSQL layout (spec/protocols.md §2.5–§2.10, §3.4):
 * etag-conditional puts and deletes, getObject, findObjects with SQL + JavaScript filtering,
 * updateObjects and deleteMany. Each takes the Queryable to run on, so batch can run several
 * in one transaction.
 */
import { randomUUID } from 'node:crypto';
import { type Database, DatabaseError, type Queryable, type Row } from '../../db/index.ts';
import type { Bucket, BucketStore } from './buckets.ts';
import {
  etagConflict,
  fieldUpdate,
  invalidQuery,
  notIndexed,
  notNullable,
  objectNotFound,
} from './errors.ts';
import { morayEtag } from './etag.ts';
import { type Filter, FilterSyntaxError, matchesFilter, parseFilter } from './filter.ts';
import { pgError } from './pg-errors.ts';
import { recordJson } from './record-json.ts';
import { type MorayRecord, rowToRecord } from './records.ts';
import { type Statement, statementsFor } from './statements.ts';
import { toColumnValue } from './types.ts';
import type { MorayOptions } from './validate.ts';
import {
  buildWhere,
  checkIndexes,
  converterFor,
  INTERNAL_FIELDS,
  sqlImpliesFilter,
} from './where.ts';

/** Up to this many rows a findObjects result is read in one query; beyond, through a cursor. */
const STREAM_ABOVE = 1000;
const STREAM_BATCH = 1000;

const GET_HANDLED = ['noBucketCache', 'noCache', 'req_id', 'requireOnlineReindexing', 'timeout'];
const FIND_HANDLED = [
  'req_id',
  'limit',
  'offset',
  'sort',
  'noLimit',
  'no_count',
  'sql_only',
  'noBucketCache',
  'timeout',
  'requireOnlineReindexing',
  'requireIndexes',
];

export type Emit = (value: unknown) => Promise<void>;

/** Where records go: as values, or as JSON text already serialised (the Fast `writeJson`). */
export interface RecordSink {
  value: Emit;
  json(text: string): Promise<void>;
}

function parse(filterText: string): Filter {
  try {
    return parseFilter(filterText);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw invalidQuery(filterText);
    throw err;
  }
}

/** Runs a (prepared) statement, mapping PostgreSQL errors as Moray does. */
async function run(q: Queryable, sql: Statement, params: readonly unknown[]): Promise<Row[]> {
  try {
    return (await q.query(sql.text, params, { name: sql.name })).rows;
  } catch (err) {
    throw pgError(err, sql.text);
  }
}

export class ObjectStore {
  readonly #db: Database;
  readonly #buckets: BucketStore;
  /** Bucket tables with rows updated or deleted since `takeRewritten()` was last called. */
  readonly #rewritten = new Set<string>();

  constructor(db: Database, buckets: BucketStore) {
    this.#db = db;
    this.#buckets = buckets;
  }

  /**
   * The bucket's config, read through `q` when it is not cached: inside a transaction that must
   * be the transaction itself (PGlite has one connection, which the transaction holds).
   */
  #bucket(name: string, options: MorayOptions, q: Queryable = this.#db): Promise<Bucket> {
    return this.#buckets.load(name, q, options.noBucketCache === true);
  }

  /** The tables whose rows were updated or deleted since the last call (dead rows to reclaim). */
  takeRewritten(): string[] {
    const tables = [...this.#rewritten];
    this.#rewritten.clear();
    return tables;
  }

  /** putObject: returns the new etag. */
  async put(
    q: Queryable,
    bucketName: string,
    key: string,
    value: Record<string, unknown>,
    options: MorayOptions,
  ): Promise<string> {
    const bucket = await this.#bucket(bucketName, options, q);
    // Only a create (`etag: null`) cannot replace a row.
    if (options.etag !== null) this.#rewritten.add(bucket.name);
    const sql = statementsFor(bucket);
    const json = JSON.stringify(value);
    const etag = morayEtag(json);
    const params: unknown[] = [key, json, etag, Date.now(), value.vnode ?? null];
    for (const field of bucket.fields)
      params.push(toColumnValue(field.key, field.type, value[field.key]));
    const expected = options.etag;
    if (expected === undefined) {
      await run(q, sql.upsert, params);
      return etag;
    }
    for (;;) {
      const written =
        expected === null
          ? await run(q, sql.insertIfAbsent, params)
          : await run(q, sql.updateIfEtag, [...params, expected]);
      if (written.length > 0) return etag;
      const current = await run(q, sql.selectEtag, [key]);
      const actual = current[0]?._etag as string | undefined;
      // The row changed between the two statements in a way that now satisfies the condition
      // (deleted, or created for a null etag): try the write again.
      if (expected === null ? actual === undefined : actual === expected) continue;
      throw etagConflict(bucket.name, key, expected ?? 'null', actual ?? 'null');
    }
  }

  /**
   * Several `etag: null` puts (insert only where absent) in one statement, inside the caller's
   * transaction; their etags, or undefined when a key already exists or repeats, after undoing
   * the statement, so the caller runs the puts one by one for Moray's exact errors. Keys must
   * be distinct and the bucket the same.
   */
  async putAllIfAbsent(
    tx: Queryable,
    bucketName: string,
    items: readonly { key: string; value: Record<string, unknown> }[],
    options: MorayOptions,
  ): Promise<string[] | undefined> {
    const bucket = await this.#bucket(bucketName, options, tx);
    const sql = statementsFor(bucket);
    const etags: string[] = [];
    const params: unknown[] = [];
    const tuples: string[] = [];
    const now = Date.now();
    for (const { key, value } of items) {
      const json = JSON.stringify(value);
      const etag = morayEtag(json);
      etags.push(etag);
      const row: unknown[] = [key, json, etag, now, value.vnode ?? null];
      for (const field of bucket.fields) {
        row.push(toColumnValue(field.key, field.type, value[field.key]));
      }
      tuples.push(`(${row.map((_, i) => `$${params.length + i + 1}`).join(', ')})`);
      params.push(...row);
    }
    const text = `${sql.insertPrefix} VALUES ${tuples.join(', ')} ON CONFLICT (_key) DO NOTHING RETURNING _key`;
    await tx.query('SAVEPOINT moray_put_all');
    let inserted = -1;
    try {
      inserted = (await tx.query(text, params)).rowCount;
    } catch (err) {
      // Any failure (a unique index, a bad value): the one-by-one puts report it exactly.
      if (!(err instanceof DatabaseError)) throw err;
    }
    if (inserted === items.length) {
      await tx.query('RELEASE SAVEPOINT moray_put_all');
      return etags;
    }
    await tx.query('ROLLBACK TO SAVEPOINT moray_put_all');
    return undefined;
  }

  async get(
    bucketName: string,
    key: string,
    options: MorayOptions,
    sink: RecordSink,
  ): Promise<void> {
    const bucket = await this.#bucket(bucketName, options);
    if (options.internalOpts?.sendHandledOptions) {
      await sink.value({ _handledOptions: GET_HANDLED });
    }
    const rows = await run(this.#db, statementsFor(bucket).select, [key]);
    const row = rows[0];
    if (!row) throw objectNotFound(bucket.name, key);
    // getObject's `_count` is null: Moray computes NaN and JSON turns it into null.
    const json = recordJson(bucket, row, null);
    if (json !== undefined) await sink.json(json);
    else await sink.value(rowToRecord(bucket, row, null));
  }

  /** delObject; `etag: null` is ignored, any other truthy etag must match. */
  async del(q: Queryable, bucketName: string, key: string, options: MorayOptions): Promise<void> {
    const bucket = await this.#bucket(bucketName, options, q);
    this.#rewritten.add(bucket.name);
    const sql = statementsFor(bucket);
    const expected = options.etag || options._etag;
    if (!expected) {
      const rows = await run(q, sql.delete, [key]);
      if (rows.length === 0) throw objectNotFound(bucket.name, key);
      return;
    }
    for (;;) {
      const rows = await run(q, sql.deleteIfEtag, [key, expected]);
      if (rows.length > 0) return;
      const current = await run(q, sql.selectEtag, [key]);
      const actual = current[0]?._etag as string | undefined;
      if (actual === undefined) throw objectNotFound(bucket.name, key);
      if (actual === expected) continue;
      throw etagConflict(bucket.name, key, String(expected), actual);
    }
  }

  async find(
    bucketName: string,
    filterText: string,
    options: MorayOptions,
    sink: RecordSink,
    signal: AbortSignal,
  ): Promise<void> {
    const emit = sink.value;
    const filter = parse(filterText);
    const bucket = await this.#bucket(bucketName, options);
    if (options.requireIndexes) {
      const err = checkIndexes(bucket, filter, filterText);
      if (err) throw err;
    }
    if (options.internalOpts?.sendHandledOptions) await emit({ _handledOptions: FIND_HANDLED });
    const where = buildWhere(bucket, filter, options, filterText);
    if (options.sql_only) {
      const reqId = options.req_id ?? randomUUID();
      const out: Record<string, unknown> = {};
      if (!options.no_count) {
        out.count = `SELECT count(1) over () as _count, '${reqId}' AS req_id FROM ${bucket.name} ${where.clause}`;
      }
      out.query = `SELECT *, '${reqId}' AS req_id FROM ${bucket.name} ${where.clause}`;
      out.args = where.args;
      await emit(out);
      return;
    }
    // One statement is one snapshot, so the window count and the rows agree as they do in
    // Moray's REPEATABLE READ transaction.
    const counted = !options.no_count;
    const sql = `SELECT *${counted ? ', count(1) over () AS _count' : ''} FROM ${bucket.name} ${where.clause}`;
    const limit = options.limit ? Number(options.limit) : options.noLimit ? Infinity : 1000;
    const convert = converterFor(bucket);
    // Rows whose record is the stored text as is need no JS re-check when the SQL alone
    // decides the filter; the others are parsed, overlaid and re-checked.
    const exact = sqlImpliesFilter(bucket, filter);
    const send = async (row: Row): Promise<void> => {
      const count = counted ? Number(row._count) : undefined;
      const json = exact ? recordJson(bucket, row, count) : undefined;
      if (json !== undefined) return sink.json(json);
      const record = rowToRecord(bucket, row, count);
      if (matchesFilter(filter, memberLookup(record), convert)) await emit(record);
    };
    try {
      if (limit <= STREAM_ABOVE) {
        const { rows } = await this.#db.query(sql, where.args);
        for (const row of rows) {
          if (signal.aborted) return;
          await send(row);
        }
        return;
      }
      for await (const row of this.#db.stream(sql, where.args, { batchSize: STREAM_BATCH })) {
        if (signal.aborted) return;
        await send(row);
      }
    } catch (err) {
      throw pgError(err, sql);
    }
  }

  /** updateObjects: sets index columns only (the JSON stays), with one shared `u…` etag. */
  async update(
    q: Queryable,
    bucketName: string,
    fields: Record<string, unknown>,
    filterText: string,
    options: MorayOptions,
  ): Promise<{ count: number; etag: string }> {
    const keys = Object.keys(fields);
    if (keys.length === 0) throw fieldUpdate(fields);
    const { bucket, where } = await this.#selection(q, bucketName, filterText, options);
    const etag = `u${randomUUID().slice(0, 7)}`;
    const args = [...where.args, etag, Date.now()];
    const sets = [`_etag=$${args.length - 1}`, `_mtime=$${args.length}`];
    for (const k of keys) {
      const field = bucket.byKey.get(k);
      if (!field) throw notIndexed(bucket.name, JSON.stringify(fields));
      const column = toColumnValue(k, field.type, fields[k]);
      if (column === null) throw notNullable(k, field.type.name);
      args.push(column);
      sets.push(`${field.column}=$${args.length}`);
    }
    const sql = `UPDATE ${bucket.name} SET ${sets.join(', ')} WHERE _id IN (SELECT _id FROM ${bucket.name} ${where.clause})`;
    const result = await this.#write(q, sql, args);
    return { count: result, etag };
  }

  async deleteMany(
    q: Queryable,
    bucketName: string,
    filterText: string,
    options: MorayOptions,
  ): Promise<{ count: number }> {
    const { bucket, where } = await this.#selection(q, bucketName, filterText, options);
    const sql = `DELETE FROM ${bucket.name} WHERE _id IN (SELECT _id FROM ${bucket.name} ${where.clause})`;
    return { count: await this.#write(q, sql, where.args) };
  }

  /** Parses the filter of updateObjects/deleteMany, which may name only indexed fields. */
  async #selection(q: Queryable, bucketName: string, filterText: string, options: MorayOptions) {
    const filter = parse(filterText);
    const bucket = await this.#bucket(bucketName, options, q);
    this.#rewritten.add(bucket.name); // updateObjects and deleteMany, the only callers
    if (checkIndexes(bucket, filter, filterText)) throw notIndexed(bucket.name, filterText);
    return { bucket, where: buildWhere(bucket, filter, options, filterText) };
  }

  async #write(q: Queryable, sql: string, args: unknown[]): Promise<number> {
    try {
      return (await q.query(sql, args)).rowCount;
    } catch (err) {
      throw pgError(err, sql);
    }
  }
}

/** What the JS filter sees: the record's internal fields over its value (§3.7.3). */
function memberLookup(record: MorayRecord): (attribute: string) => unknown {
  const internal = (name: string): unknown => {
    switch (name) {
      case '_id':
        return record._id;
      case '_txn_snap':
        return record._txn_snap;
      case '_etag':
        return record._etag;
      case '_key':
        return record.key;
      case '_mtime':
        return record._mtime;
      case '_count':
        return record._count;
      default:
        return undefined;
    }
  };
  const value = record.value;
  return (attribute) => {
    if (INTERNAL_FIELDS.has(attribute)) return internal(attribute);
    if (Object.hasOwn(value, attribute)) return value[attribute];
    const lower = attribute.toLowerCase();
    for (const name of INTERNAL_FIELDS) if (name.toLowerCase() === lower) return internal(name);
    for (const name of Object.keys(value)) if (name.toLowerCase() === lower) return value[name];
    return undefined;
  };
}
