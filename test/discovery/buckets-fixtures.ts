/**
 * buckets-postgres databases laid out as the real buckets-mdapi (the sandbox's DDL), seeded
 * with objects on and off a shark, for the buckets discovery tests. PGlite with hstore by
 * default, a fresh database on the real server when REBALANCER_TEST_PG_URL is set.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../../src/db/index.ts';
import type { DiscoveryEvent } from '../../src/discovery/index.ts';
import { openMdapiDatabase } from '../../src/sandbox/mdapi/database.ts';
import { createVnodeSchemas } from '../../src/sandbox/mdapi/schema.ts';
import { createTestDatabaseUrl, dropTestDatabase, testPostgresUrl } from '../support/database.ts';

export const SHARK = '1.stor.test.example.com';
export const OWNERS = [
  '0a3f6b4e-1111-4c1e-9d3a-000000000001',
  '0a3f6b4e-1111-4c1e-9d3a-000000000002',
] as const;
export const BUCKETS = [
  'b0c1d2e3-2222-4f00-8a00-000000000001',
  'b0c1d2e3-2222-4f00-8a00-000000000002',
] as const;

export interface BucketsDatabase {
  db: Database;
  drop(): Promise<void>;
}

/** A database with the vnode schemas `vnodes` (and the hstore extension). */
export async function createBucketsDatabase(vnodes: readonly number[]): Promise<BucketsDatabase> {
  const adminUrl = testPostgresUrl();
  let result: BucketsDatabase;
  if (adminUrl === undefined) {
    const db = await openMdapiDatabase();
    result = { db, drop: () => db.close() };
  } else {
    const { name, url } = await createTestDatabaseUrl(adminUrl);
    const db = await openMdapiDatabase({ url, poolSize: 4 });
    result = {
      db,
      drop: async () => {
        await db.close();
        await dropTestDatabase(adminUrl, name);
      },
    };
  }
  await createVnodeSchemas(result.db, vnodes);
  return result;
}

export interface SeededObject {
  vnode: number;
  id: string;
  owner: string;
  bucket_id: string;
  name: string;
  content_length: number;
  md5: Buffer;
  content_type: string;
  headers: Record<string, string | null> | null;
  sharks: string[] | null;
  properties: unknown;
  /** What discovery must report for it. */
  expect: 'object' | 'malformed' | 'none';
}

/** `sharks` patterns cycled through by seedVnode, with what each must give. */
export const SHARK_PATTERNS: readonly {
  sharks: string[] | null;
  expect: SeededObject['expect'];
}[] = [
  { sharks: [`dc1:${SHARK}`, 'dc2:2.stor.test.example.com'], expect: 'object' },
  // Ids that contain the shark's id: never a match.
  { sharks: ['dc1:11.stor.test.example.com', 'dc2:21.stor.test.example.com'], expect: 'none' },
  { sharks: ['dc2:2.stor.test.example.com', `us-east-1:${SHARK}`], expect: 'object' },
  // Split at the FIRST ':': the storage id is `x:<shark>`, not the shark.
  { sharks: [`dc1:x:${SHARK}`], expect: 'none' },
  // Not `dc:storage_id`: no copy on the shark.
  { sharks: [SHARK], expect: 'none' },
  { sharks: [`dc1:${SHARK}.old`], expect: 'none' },
  { sharks: null, expect: 'none' },
  { sharks: [], expect: 'none' },
  // On the shark, but an element cannot be read: reported, never rewritten without it.
  { sharks: ['dc1:2.stor.test.example.com', 'no-colon', `dc3:${SHARK}`], expect: 'malformed' },
  { sharks: ['dc3:3.stor.test.example.com', `dc1:${SHARK}`, 'dc2:4.stor'], expect: 'object' },
];

const HEADERS: readonly (Record<string, string | null> | null)[] = [
  { 'm-color': 'blue', 'm-empty': '', 'm-unset': null, 'content-disposition': 'a "quoted" \\ v' },
  null,
  {},
];
const PROPERTIES: readonly unknown[] = [{ tags: ['a', { b: null }], n: 1.5 }, null, 'text'];

function uuidOf(vnode: number, i: number): string {
  const hex = createHash('sha256').update(`${vnode}/${i}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Inserts `count` objects into vnode `vnode`: every owner × bucket pair holds the same names
 * (so a name alone never identifies a row), each object with the next `sharks` pattern.
 */
export async function seedVnode(
  db: Database,
  vnode: number,
  count: number,
): Promise<SeededObject[]> {
  const out: SeededObject[] = [];
  for (let i = 0; i < count; i++) {
    const pattern = SHARK_PATTERNS[
      (i + vnode) % SHARK_PATTERNS.length
    ] as (typeof SHARK_PATTERNS)[number];
    const o: SeededObject = {
      vnode,
      id: uuidOf(vnode, i),
      owner: OWNERS[i % 2] as string,
      bucket_id: BUCKETS[(i >> 1) % 2] as string,
      name: `photos/${Math.floor(i / 4)}.jpg`,
      content_length: 1000 * i + vnode,
      md5: createHash('md5').update(`${vnode}/${i}`).digest(),
      content_type: 'image/jpeg',
      headers: HEADERS[i % HEADERS.length] ?? null,
      sharks: pattern.sharks,
      properties: PROPERTIES[i % PROPERTIES.length],
      expect: pattern.expect,
    };
    await insertObject(db, o);
    out.push(o);
  }
  return out;
}

export async function insertObject(db: Database, o: SeededObject): Promise<void> {
  const keys = o.headers === null ? null : Object.keys(o.headers);
  const values = o.headers === null ? null : Object.values(o.headers);
  await db.query(
    `INSERT INTO manta_bucket_${o.vnode}.manta_bucket_object
       (id, owner, bucket_id, name, content_length, content_md5, content_type, headers, sharks,
        properties)
     VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), $7,
             CASE WHEN $8::text[] IS NULL THEN NULL ELSE hstore($8::text[], $9::text[]) END,
             $10::text[], $11::jsonb)`,
    [
      o.id,
      o.owner,
      o.bucket_id,
      o.name,
      o.content_length,
      o.md5.toString('hex'),
      o.content_type,
      keys,
      values,
      o.sharks,
      o.properties === null ? null : JSON.stringify(o.properties),
    ],
  );
}

/**
 * The Moray-shaped record discovery must give for a seeded object (peers.md §3.4, with L's
 * placeholder members), its own headers and properties kept.
 */
export function expectedValue(o: SeededObject): Record<string, unknown> {
  return {
    bucket_id: o.bucket_id,
    contentLength: o.content_length,
    contentMD5: o.md5.toString('base64'),
    contentType: o.content_type,
    creator: o.owner,
    dirname: '',
    etag: o.id,
    // A NULL hstore has no headers: {} (updateobject cannot write NULL).
    headers: o.headers ?? {},
    key: o.name,
    mtime: 0,
    name: o.name,
    objectId: o.id,
    owner: o.owner,
    properties: o.properties,
    roles: [],
    sharks: (o.sharks ?? []).map((s) => ({
      datacenter: s.slice(0, s.indexOf(':')),
      manta_storage_id: s.slice(s.indexOf(':') + 1),
    })),
    type: 'object',
    vnode: o.vnode,
  };
}

/** `<vnode>/<owner>/<bucket_id>/<name>`, as events name a buckets row. */
export const rowIdOf = (o: { vnode: number; owner: string; bucket_id: string; name: string }) =>
  `${o.vnode}/${o.owner}/${o.bucket_id}/${o.name}`;

/** The buckets events' row ids, per kind, in the order they came. */
export function rowIds(events: readonly DiscoveryEvent[], kind: 'object' | 'malformed'): string[] {
  return events.flatMap((e) => (e.kind === kind && e.tier === 'buckets' ? [e.rowId] : []));
}
