/**
 * Bulk-loads buckets (v2) object rows into shard databases laid out by the stand-in's
 * schema.ts: rows `from..to` spread evenly over the ring's vnodes, each vnode on the shard
 * v % shards, a quarter of the rows with a copy on TARGET_SHARK. Some rows have user headers
 * (one NULL value) and properties, as real ones do.
 */
import pg from 'pg';
import { vnodeSchemaDdl, vnodeTable } from '../../src/sandbox/mdapi/schema.ts';

export const TARGET_SHARK = '1.stor.bench.test';
/** Where the update benchmark moves the copies on TARGET_SHARK (no row names it before). */
export const DESTINATION = { datacenter: 'dc1', manta_storage_id: '14.stor.bench.test' };
export const VNODES = 8;
export const OWNERS = [
  '0a3f3b2e-6a49-4c1e-9c55-1d2a1f0b7d01',
  '1b4e4c3f-7b5a-4d2f-8d66-2e3b2a1c8e02',
  '2c5f5d40-8c6b-4e30-9e77-3f4c3b2d9f03',
  '3d606e51-9d7c-4f41-af88-405d4c3e0a04',
];
export const BUCKETS = [
  'b0000000-0000-4000-8000-000000000001',
  'b0000000-0000-4000-8000-000000000002',
  'b0000000-0000-4000-8000-000000000003',
  'b0000000-0000-4000-8000-000000000004',
];

export const shardVnodes = (shard: number, shards: number): number[] =>
  Array.from({ length: VNODES }, (_, v) => v).filter((v) => v % shards === shard);

export async function createSchemas(url: string, vnodes: readonly number[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `CREATE EXTENSION IF NOT EXISTS hstore;\n${vnodes.map(vnodeSchemaDdl).join('\n')}`,
    );
  } finally {
    await client.end();
  }
}

/** Rows with g in from..to whose g % VNODES is the vnode go into that vnode. */
export async function fillVnodes(
  url: string,
  vnodes: readonly number[],
  from: number,
  to: number,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const vnode of vnodes) {
      await client.query(
        `INSERT INTO ${vnodeTable(vnode, 'manta_bucket_object')}
          (id, name, owner, bucket_id, content_length, content_md5, content_type, headers, sharks, properties)
        SELECT gen_random_uuid(), 'objects/o' || lpad(g::text, 9, '0'),
          ($3::uuid[])[1 + g % 4], ($4::uuid[])[1 + (g / 4) % 4],
          1024 + g % 4096, decode(md5(g::text), 'hex'), 'application/octet-stream',
          CASE WHEN g % 3 = 0 THEN hstore(ARRAY['m-seq', 'm-null'], ARRAY[g::text, NULL]) ELSE ''::hstore END,
          CASE WHEN (g / ${VNODES}) % 4 = 0
            THEN ARRAY['dc1:${TARGET_SHARK}', 'dc2:' || (2 + g % 9) || '.stor.bench.test']
            ELSE ARRAY['dc2:' || (2 + g % 9) || '.stor.bench.test', 'dc1:1' || (1 + g % 3) || '.stor.bench.test']
          END,
          CASE WHEN g % 4 = 1 THEN jsonb_build_object('n', g) ELSE NULL END
        FROM generate_series($1::int, $2::int) AS g WHERE g % ${VNODES} = ${vnode}`,
        [from, to, OWNERS, BUCKETS],
      );
      await client.query(`ANALYZE ${vnodeTable(vnode, 'manta_bucket_object')}`);
    }
  } finally {
    await client.end();
  }
}
