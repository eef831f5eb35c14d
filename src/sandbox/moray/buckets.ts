/**
 * Moray buckets in PostgreSQL, laid out as real Moray does (spec/protocols.md §3.1, §3.2):
 * `buckets_config` rows, and per bucket a `<name>_serial` sequence and a `<name>` table with
 * Moray's internal columns, one column per index field and Moray's partial indexes. Bucket
 * configs are cached per shard; every bucket RPC invalidates the cache entry.
 */
import type { Database, Queryable, Row } from '../../db/index.ts';
import { RpcError } from '../../fast/index.ts';
import {
  bucketConflict,
  bucketNotFound,
  bucketVersion,
  invalidBucketConfig,
  invalidBucketName,
} from './errors.ts';
import { INDEX_TYPE_NAMES, type IndexType, indexType } from './types.ts';
import { isPlainObject } from './validate.ts';

export interface IndexField {
  /** The field name in the value, as configured (`objectId`). */
  readonly key: string;
  /** Its column: PostgreSQL folds the unquoted identifier to lower case (`objectid`). */
  readonly column: string;
  readonly type: IndexType;
  readonly unique: boolean;
}

export interface Bucket {
  readonly name: string;
  readonly fields: readonly IndexField[];
  readonly byKey: ReadonlyMap<string, IndexField>;
  /** The raw `buckets_config` row as getBucket/listBuckets return it (§2.11). */
  readonly row: Row;
}

export interface BucketConfigInput {
  index?: Record<string, { type: string; unique?: boolean }>;
  pre?: unknown[];
  post?: unknown[];
  options?: Record<string, unknown>;
}

const BUCKET_NAME = /^[a-zA-Z]\w{0,62}$/;
const RESERVED_BUCKETS = ['buckets_config', 'moray', 'search'];
const INDEX_NAME = /^(_[a-zA-Z0-9]+|[a-zA-Z][_a-zA-Z0-9]*[a-zA-Z0-9]|[a-zA-Z])$/;
const RESERVED_INDEXES = [
  '_etag',
  '_id',
  '_idx',
  '_key',
  '_atime',
  '_ctime',
  '_mtime',
  '_rver',
  '_txn_snap',
  '_value',
  '_vnode',
];
/** Columns every bucket table has, with Moray's indexes (besides the `_key` primary key). */
const INTERNAL_INDEXED = ['_id', '_etag', '_mtime', '_vnode'];

export const BUCKETS_CONFIG_DDL = `CREATE TABLE IF NOT EXISTS buckets_config (
  name text PRIMARY KEY,
  index text NOT NULL,
  pre text NOT NULL,
  post text NOT NULL,
  options text,
  mtime timestamp without time zone DEFAULT now() NOT NULL,
  reindex_active text
)`;

/** Validates a bucket config as Moray's `bucket` schema and index rules (§2.12). */
function validateConfig(config: unknown): BucketConfigInput {
  if (!isPlainObject(config)) throw invalidBucketConfig('bucket should be object');
  const { index, pre, post, options } = config;
  if (index !== undefined) {
    if (!isPlainObject(index)) throw invalidBucketConfig('bucket.index should be object');
    for (const [name, def] of Object.entries(index)) {
      const path = `bucket.index['${name}']`;
      if (!isPlainObject(def)) throw invalidBucketConfig(`${path} should be object`);
      if (def.type === undefined) {
        throw invalidBucketConfig(`${path} should have required property 'type'`);
      }
      for (const member of Object.keys(def)) {
        if (member !== 'type' && member !== 'unique') {
          throw invalidBucketConfig(`${path} should NOT have additional properties`);
        }
      }
      if (typeof def.type !== 'string') throw invalidBucketConfig(`${path}.type should be string`);
      if (!INDEX_TYPE_NAMES.includes(def.type)) {
        throw invalidBucketConfig(
          `${path}.type should be equal to one of the allowed values (${INDEX_TYPE_NAMES.map((t) => JSON.stringify(t)).join(', ')})`,
        );
      }
      if (def.unique !== undefined && typeof def.unique !== 'boolean') {
        throw invalidBucketConfig(`${path}.unique should be boolean`);
      }
      if (!INDEX_NAME.test(name)) throw invalidBucketConfig(`invalid index name "${name}"`);
      const lower = name.toLowerCase();
      if (RESERVED_INDEXES.includes(lower)) {
        throw invalidBucketConfig(`index name "${name}" is reserved for use by Moray`);
      }
      if (/^_*moray/.test(lower)) {
        throw invalidBucketConfig(`index names cannot start with "moray": "${name}"`);
      }
    }
  }
  if (pre !== undefined && !Array.isArray(pre))
    throw invalidBucketConfig('bucket.pre should be array');
  if (post !== undefined && !Array.isArray(post)) {
    throw invalidBucketConfig('bucket.post should be array');
  }
  if (options !== undefined) {
    if (!isPlainObject(options)) throw invalidBucketConfig('bucket.options should be object');
    const version = options.version;
    if (version !== undefined) {
      if (typeof version !== 'number' || !Number.isInteger(version)) {
        throw invalidBucketConfig('bucket.options.version should be integer');
      }
      if (version < 0) throw invalidBucketConfig('bucket.options.version should be >= 0');
    }
  }
  return config as BucketConfigInput;
}

function validateName(name: string): void {
  if (!BUCKET_NAME.test(name) || RESERVED_BUCKETS.includes(name)) throw invalidBucketName(name);
}

function parseJson(text: unknown, fallback: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : fallback;
}

/** The raw row as Moray sends it: JSON members as strings, `mtime` as an ISO string. */
function wireRow(row: Row): Row {
  const mtime = row.mtime instanceof Date ? row.mtime.toISOString() : row.mtime;
  return { ...row, mtime };
}

function toBucket(row: Row): Bucket {
  const index = parseJson(row.index, {}) as Record<string, { type: string; unique?: boolean }>;
  const fields: IndexField[] = [];
  for (const [key, def] of Object.entries(index)) {
    const type = indexType(def.type);
    if (type === undefined)
      throw new Error(`bucket ${String(row.name)}: unknown index type ${def.type}`);
    fields.push({ key, column: key.toLowerCase(), type, unique: def.unique === true });
  }
  return {
    name: String(row.name),
    fields,
    byKey: new Map(fields.map((f) => [f.key, f])),
    row: wireRow(row),
  };
}

function columnDdl(field: IndexField): string {
  return `${field.key} ${field.type.pg}${field.unique ? ' UNIQUE' : ''}`;
}

/** Moray's partial index for one column; the name keeps the configured case, as Moray's does. */
function indexDdl(bucket: string, name: string, method: string): string {
  return `CREATE  INDEX ${bucket}_${name}_idx ON ${bucket} USING ${method} (${name}) WHERE ${name} IS NOT NULL`;
}

export class BucketStore {
  readonly #db: Database;
  readonly #cache = new Map<string, Promise<Bucket | undefined>>();

  constructor(db: Database) {
    this.#db = db;
  }

  /** Creates `buckets_config` when it is missing (Moray's pg-setup). */
  async setup(): Promise<void> {
    await this.#db.query(BUCKETS_CONFIG_DDL);
  }

  /** The bucket's config (cached); BucketNotFoundError when it does not exist. */
  async load(name: string, q: Queryable = this.#db, noCache = false): Promise<Bucket> {
    let pending = noCache ? undefined : this.#cache.get(name);
    if (pending === undefined) {
      pending = q
        .query('SELECT * FROM buckets_config WHERE name = $1', [name])
        .then((r) => (r.rows[0] ? toBucket(r.rows[0]) : undefined));
      this.#cache.set(name, pending);
      // A failed read must not stay cached.
      pending.catch(() => this.#cache.delete(name));
    }
    const bucket = await pending;
    if (bucket === undefined) {
      this.#cache.delete(name);
      throw bucketNotFound(name);
    }
    return bucket;
  }

  invalidate(name: string): void {
    this.#cache.delete(name);
  }

  async list(q: Queryable = this.#db): Promise<Row[]> {
    const { rows } = await q.query('SELECT * FROM buckets_config');
    return rows.map(wireRow);
  }

  async create(name: string, config: unknown): Promise<void> {
    validateName(name);
    const cfg = validateConfig(config);
    const options = { ...(cfg.options ?? {}) };
    options.version ??= 0;
    const index = cfg.index ?? {};
    const bucket = toBucket({ name, index: JSON.stringify(index) });
    this.invalidate(name);
    try {
      await this.#db.transaction(async (tx) => {
        const existing = await tx.query('SELECT name FROM buckets_config WHERE name = $1', [name]);
        if (existing.rows.length > 0) throw bucketConflict(name);
        await tx.query(
          'INSERT INTO buckets_config (name, index, pre, post, options) VALUES ($1, $2, $3, $4, $5)',
          [
            name,
            JSON.stringify(index),
            JSON.stringify(cfg.pre ?? []),
            JSON.stringify(cfg.post ?? []),
            JSON.stringify(options),
          ],
        );
        await tx.query(`CREATE SEQUENCE ${name}_serial`);
        if (options.guaranteeOrder === true) {
          await tx.query(`CREATE TABLE ${name}_locking_serial (id INTEGER PRIMARY KEY)`);
          await tx.query(`INSERT INTO ${name}_locking_serial (id) VALUES (1)`);
        }
        const extra = bucket.fields.map((f) => `, ${columnDdl(f)}`).join('');
        await tx.query(
          `CREATE TABLE ${name} (_id BIGINT DEFAULT nextval('${name}_serial'), _txn_snap INTEGER, ` +
            '_key TEXT PRIMARY KEY, _value TEXT NOT NULL, _etag CHAR(8) NOT NULL, ' +
            '_mtime BIGINT DEFAULT CAST (EXTRACT (EPOCH FROM NOW()) * 1000 AS BIGINT), ' +
            `_vnode BIGINT${extra})`,
        );
        for (const f of bucket.fields) {
          if (!f.unique) await tx.query(indexDdl(name, f.key, f.type.method));
        }
        for (const column of INTERNAL_INDEXED) await tx.query(indexDdl(name, column, 'BTREE'));
      });
    } catch (err) {
      // Two creators racing: the loser hits the primary key or the existing relation.
      if (!(err instanceof RpcError) && isDuplicate(err)) throw bucketConflict(name);
      throw err;
    } finally {
      this.invalidate(name);
    }
  }

  /**
   * Moray's updateBucket: refuses an older-or-equal non-zero version, adds columns and indexes
   * for new index fields and drops those of removed ones (existing rows are not reindexed).
   */
  async update(name: string, config: unknown): Promise<void> {
    validateName(name);
    const cfg = validateConfig(config);
    const options = { ...(cfg.options ?? {}) };
    options.version ??= 0;
    const newVersion = options.version as number;
    const index = cfg.index ?? {};
    const wanted = toBucket({ name, index: JSON.stringify(index) });
    this.invalidate(name);
    try {
      await this.#db.transaction(async (tx) => {
        const { rows } = await tx.query('SELECT * FROM buckets_config WHERE name = $1 FOR UPDATE', [
          name,
        ]);
        if (!rows[0]) throw bucketNotFound(name);
        const current = toBucket(rows[0]);
        const oldOptions = parseJson(rows[0].options, {}) as { version?: number };
        const oldVersion = oldOptions.version ?? 0;
        if (oldVersion !== 0 && oldVersion >= newVersion) {
          throw bucketVersion(name, newVersion, oldVersion);
        }
        for (const f of current.fields) {
          if (!wanted.byKey.has(f.key))
            await tx.query(`ALTER TABLE ${name} DROP COLUMN ${f.column}`);
        }
        for (const f of wanted.fields) {
          if (current.byKey.has(f.key)) continue;
          await tx.query(`ALTER TABLE ${name} ADD COLUMN ${columnDdl(f)}`);
          if (!f.unique) await tx.query(indexDdl(name, f.key, f.type.method));
        }
        await tx.query(
          'UPDATE buckets_config SET index = $2, pre = $3, post = $4, options = $5, mtime = now() WHERE name = $1',
          [
            name,
            JSON.stringify(index),
            JSON.stringify(cfg.pre ?? []),
            JSON.stringify(cfg.post ?? []),
            JSON.stringify(options),
          ],
        );
      });
    } finally {
      this.invalidate(name);
    }
  }

  async delete(name: string): Promise<void> {
    this.invalidate(name);
    try {
      await this.#db.transaction(async (tx) => {
        const { rows } = await tx.query(
          'DELETE FROM buckets_config WHERE name = $1 RETURNING options',
          [name],
        );
        if (!rows[0]) throw bucketNotFound(name);
        await tx.query(`DROP TABLE IF EXISTS ${name}`);
        await tx.query(`DROP SEQUENCE IF EXISTS ${name}_serial`);
        await tx.query(`DROP TABLE IF EXISTS ${name}_locking_serial`);
      });
    } finally {
      this.invalidate(name);
    }
  }
}

function isDuplicate(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === '42P07';
}

// The sandbox imports Manta's bucket definitions from here.
export { MANTA_BUCKET, MANTA_STORAGE_BUCKET } from './manta-buckets.ts';
