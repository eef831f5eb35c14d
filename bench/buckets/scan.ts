/**
 * One measured scan of the buckets shards, as its own process so its peak RSS is its own:
 *   node --import tsx bench/buckets/scan.ts --mode raw|direct --urls URL1,URL2 --rows N
 * `raw` is the baseline: `pg` alone, a cursor per vnode over the rows the same text
 * pre-filter passes, each row's copies split at the first ':' and compared with the shark;
 * `direct` is discoverObjects over the buckets direct-db sources. Both read the shards at
 * once, the same columns of the same rows. The raw scan does not sort: ordering the rows by
 * key is what makes our scan resumable, a cost of ours the baseline need not pay. Prints one JSON line: {mode, rows, found, seconds, rows_per_s, rss_before_mib,
 * vm_hwm_mib}; `rows` is what the shards hold (the rate is rows scanned per second).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../../src/db/index.ts';
import { discoverObjects, type ShardSource } from '../../src/discovery/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { vnodeTable } from '../../src/sandbox/mdapi/schema.ts';
import { rssMb } from '../support/proc.ts';
import { TARGET_SHARK } from './fill.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string' },
    urls: { type: 'string' },
    rows: { type: 'string' },
  },
});
const urls = (args.urls ?? '').split(',').filter((u) => u !== '');
if (urls.length === 0) throw new Error('--urls is required');
const log = createLogger({ name: 'bench-buckets', level: 'warn' });
const FETCH_ROWS = 1000;

async function rawShard(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let found = 0;
  try {
    const { rows: schemas } = await client.query<{ schema_name: string }>(
      `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'manta\\_bucket\\_%'`,
    );
    const vnodes = schemas.map((s) => Number(s.schema_name.slice('manta_bucket_'.length)));
    for (const vnode of vnodes.sort((a, b) => a - b)) {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await client.query(
        `DECLARE raw NO SCROLL CURSOR FOR SELECT owner, bucket_id, name, id, content_length,
           encode(content_md5, 'base64') AS md5, content_type, hstore_to_json(headers) AS headers,
           sharks, properties
         FROM ${vnodeTable(vnode, 'manta_bucket_object')}
         WHERE strpos(array_to_string(sharks, chr(1)) || chr(1), ':${TARGET_SHARK}' || chr(1)) > 0`,
      );
      for (;;) {
        const { rows } = await client.query<{ sharks: string[] }>(`FETCH ${FETCH_ROWS} FROM raw`);
        for (const row of rows) {
          if (row.sharks.some((s) => s.slice(s.indexOf(':') + 1) === TARGET_SHARK)) found++;
        }
        if (rows.length < FETCH_ROWS) break;
      }
      await client.query('COMMIT');
    }
  } finally {
    await client.end();
  }
  return found;
}

async function directScan(): Promise<number> {
  const dbs = await Promise.all(urls.map((url) => openDatabase({ url, poolSize: 1, log })));
  try {
    const shards: ShardSource[] = dbs.map((db, i) => ({
      shard: i + 1,
      mode: 'buckets-direct-db',
      db,
    }));
    let found = 0;
    for await (const event of discoverObjects({ shark: TARGET_SHARK, shards, log })) {
      if (event.kind === 'object') found++;
      else if (event.kind === 'malformed') throw new Error(`malformed: ${event.problem}`);
    }
    return found;
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
}

const mode = args.mode;
const rssBefore = rssMb(process.pid, 'VmRSS');
const start = process.hrtime.bigint();
let found: number;
if (mode === 'raw') found = (await Promise.all(urls.map(rawShard))).reduce((a, b) => a + b, 0);
else if (mode === 'direct') found = await directScan();
else throw new Error(`--mode must be raw or direct: ${mode}`);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const rows = Number(args.rows);
console.log(
  JSON.stringify({
    mode,
    rows,
    found,
    seconds: Number(seconds.toFixed(3)),
    rows_per_s: Math.round(rows / seconds),
    rss_before_mib: Math.round(rssBefore),
    vm_hwm_mib: Math.round(rssMb(process.pid)),
  }),
);
