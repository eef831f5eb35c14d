/**
 * Moray-layout `manta` tables seeded with objects on and off a shark, for discovery tests
 * (protocols.md §3.2, §4.3), plus a MoraySqlClient that answers the `sql` RPC from such a table
 * the way Moray does (raw node-postgres rows, one value per row).
 */
import { crc32 } from 'node:zlib';
import type { Database } from '../../src/db/index.ts';
import type { MoraySqlClient } from '../../src/discovery/index.ts';

export const SHARK = '3.stor.test.example.com';
const SHARKS = [
  { datacenter: 'dc1', manta_storage_id: '1.stor.test.example.com' },
  { datacenter: 'dc1', manta_storage_id: '2.stor.test.example.com' },
  { datacenter: 'dc2', manta_storage_id: SHARK },
  { datacenter: 'dc2', manta_storage_id: '4.stor.test.example.com' },
  { datacenter: 'dc3', manta_storage_id: '5.stor.test.example.com' },
  // Contains the shark id as a substring: must not match.
  { datacenter: 'dc3', manta_storage_id: `13.stor.test.example.com` },
];
const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';

export interface TableOptions {
  /** Add the `_idx` column of older migrated tables. */
  idx?: boolean;
  /** `_id` INTEGER (production `manta`) instead of BIGINT. */
  intId?: boolean;
}

export async function createMantaTable(db: Database, options: TableOptions = {}): Promise<void> {
  await db.exec(`
    CREATE SEQUENCE manta_serial;
    CREATE TABLE manta (
      _id ${options.intId ? 'INTEGER' : 'BIGINT'} DEFAULT nextval('manta_serial'),
      _txn_snap INTEGER,
      _key TEXT PRIMARY KEY,
      _value TEXT NOT NULL,
      _etag CHAR(8) NOT NULL,
      _mtime BIGINT DEFAULT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT,
      _vnode BIGINT,
      dirname TEXT, name TEXT, owner TEXT, objectid TEXT, type TEXT
      ${options.idx ? ', _idx BIGINT' : ''}
    );
    CREATE INDEX manta__id_idx ON manta USING BTREE (_id) WHERE _id IS NOT NULL;
    CREATE INDEX manta_type_idx ON manta USING BTREE (type) WHERE type IS NOT NULL;
  `);
}

export interface SeededRow {
  key: string;
  etag: string;
  objectId: string | undefined;
  /** What discovery must report for this row. */
  expect: 'object' | 'excluded' | 'malformed' | 'none';
  rowId: string;
}

function etagOf(text: string): string {
  return crc32(Buffer.from(text, 'latin1')).toString(16).toUpperCase().padStart(8, '0');
}

let counter = 0;

/** Deterministic pseudo-random generator for fixtures. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

export interface SeedOptions {
  objects: number;
  seed: number;
  /** Put rows with `_id` NULL and the id in `_idx` (needs an `_idx` table). */
  idxRows?: number;
  /** Rows whose id is in both `_id` and `_idx` (reported once). */
  bothIdRows?: number;
  malformed?: boolean;
}

/** Inserts objects (some on SHARK in any position), directories, excluded and malformed rows. */
export async function seedShard(db: Database, shard: number, o: SeedOptions): Promise<SeededRow[]> {
  const rand = lcg(o.seed);
  const out: SeededRow[] = [];
  const insert = async (
    key: string,
    text: string,
    type: string,
    expect: SeededRow['expect'],
    objectId: string | undefined,
    ids: { id?: number | null; idx?: number } = {},
  ) => {
    const etag = etagOf(text);
    const cols = ['_key', '_value', '_etag', 'type', 'objectid'];
    const vals: unknown[] = [key, text, etag, type, objectId ?? null];
    if (ids.id !== undefined) {
      cols.push('_id');
      vals.push(ids.id);
    }
    if (ids.idx !== undefined) {
      cols.push('_idx');
      vals.push(ids.idx);
    }
    const placeholders = vals.map((_, i) => `$${i + 1}`).join(', ');
    const { rows } = await db.query<{ _id: unknown; _idx?: unknown }>(
      `INSERT INTO manta (${cols.join(', ')}) VALUES (${placeholders}) RETURNING *`,
      vals,
    );
    const r = rows[0];
    const rowId = r?._id === null || r?._id === undefined ? String(r?._idx) : String(r._id);
    out.push({ key, etag, objectId, expect, rowId });
  };
  const record = (key: string, objectId: string, sharks: unknown, extra: object = {}) =>
    JSON.stringify({
      dirname: key.slice(0, key.lastIndexOf('/')),
      key,
      headers: {},
      mtime: 1570611723062,
      name: key.slice(key.lastIndexOf('/') + 1),
      creator: OWNER,
      owner: OWNER,
      roles: [],
      type: 'object',
      contentLength: rand() % 100000,
      contentMD5: 'L9NrIZXTY37AYVZN9+gZ7w==',
      contentType: 'text/plain',
      etag: objectId,
      objectId,
      sharks,
      vnode: rand() % 1024,
      ...extra,
    });
  const uuid = () => {
    counter++;
    const tail = `${shard.toString(16).padStart(4, '0')}${counter.toString(16).padStart(8, '0')}`;
    return `2e08b069-d132-4c25-920c-${tail}`;
  };
  const placements = (onShark: boolean) => {
    const n = 1 + (rand() % 3);
    const others = SHARKS.filter((s) => s.manta_storage_id !== SHARK);
    const picked: (typeof SHARKS)[number][] = [];
    while (picked.length < n - (onShark ? 1 : 0)) {
      const s = others[rand() % others.length] as (typeof SHARKS)[number];
      if (!picked.includes(s)) picked.push(s);
    }
    if (onShark)
      picked.splice(rand() % (picked.length + 1), 0, SHARKS[2] as (typeof SHARKS)[number]);
    return picked;
  };

  let nextIdx = 1;
  for (let i = 0; i < o.objects; i++) {
    const onShark = rand() % 3 === 0;
    const logs = rand() % 10 === 0;
    const key = logs ? `/${OWNER}/stor/logs/s${shard}/o${i}.log` : `/${OWNER}/stor/s${shard}/o${i}`;
    const objectId = uuid();
    const expect = onShark ? (logs ? 'excluded' : 'object') : 'none';
    const ids =
      o.idxRows && i % Math.ceil(o.objects / o.idxRows) === 1
        ? { id: null, idx: nextIdx++ }
        : o.bothIdRows && i % Math.ceil(o.objects / o.bothIdRows) === 2
          ? { idx: nextIdx++ }
          : {};
    await insert(key, record(key, objectId, placements(onShark)), 'object', expect, objectId, ids);
    if (i % 7 === 0) {
      // A directory: never reported, even though it mentions the shark in a header.
      const dir = `/${OWNER}/stor/s${shard}/d${i}`;
      const text = JSON.stringify({
        dirname: `/${OWNER}/stor`,
        key: dir,
        headers: { 'm-note': SHARK },
        mtime: 1,
        name: `d${i}`,
        owner: OWNER,
        type: 'directory',
      });
      await insert(dir, text, 'directory', 'none', undefined);
    }
  }
  if (o.malformed) {
    const bad = `/${OWNER}/stor/s${shard}/bad-json`;
    await insert(
      bad,
      `{"sharks":[{"manta_storage_id":"${SHARK}"`,
      'object',
      'malformed',
      undefined,
    );
    const noSharks = `/${OWNER}/stor/s${shard}/bad-sharks`;
    await insert(
      noSharks,
      JSON.stringify({ key: noSharks, note: SHARK, sharks: 'x' }),
      'object',
      'malformed',
      undefined,
    );
    const noLength = `/${OWNER}/stor/s${shard}/bad-length`;
    await insert(
      noLength,
      record(noLength, uuid(), [SHARKS[2]], { contentLength: 'big' }),
      'object',
      'malformed',
      undefined,
    );
  }
  return out;
}

/** Whether a `sql` statement is a moray-mode window (not a `MAX()` query). */
export function isWindow(statement: string): boolean {
  return /^SELECT .* FROM manta WHERE _(id|idx) >= /.test(statement);
}

/** Answers `sql` from the table as Moray does: every row, raw, one value each. */
export function tableMoray(
  db: Database,
  hooks: { beforeWindow?: (statement: string) => void } = {},
): MoraySqlClient & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    async *sql(statement: string, values: readonly unknown[]) {
      statements.push(statement);
      hooks.beforeWindow?.(statement);
      const { rows } = await db.query(statement, values);
      yield* rows;
    },
  };
}
