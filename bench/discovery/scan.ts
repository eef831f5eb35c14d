/**
 * One measured scan of the benchmark shard, run as its own process so that its peak RSS
 * (VmHWM) is its own:
 *   node --import tsx bench/discovery/scan.ts --mode raw|moray|direct --database-url URL
 *     [--port N] [--shark ID] [--chunk-size N] [--windows N] [--batch-size N]
 * `raw` is the baseline: `pg` alone, the same rows through a cursor, each `_value` parsed and
 * its sharks compared; `moray` and `direct` are discoverObjects in each mode. Prints one JSON
 * line: `{mode, objects, seconds, objects_per_s, cpu_s, retries, rss_before_mib, vm_hwm_mib}`
 * (RSS before the scan: after loading the code, before connecting; what no scan changes).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../../src/db/index.ts';
import { discoverObjects, type ShardSource } from '../../src/discovery/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import { TARGET_SHARK } from './fill.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string' },
    'database-url': { type: 'string' },
    port: { type: 'string' },
    shark: { type: 'string', default: TARGET_SHARK },
    'chunk-size': { type: 'string' },
    'batch-size': { type: 'string' },
    windows: { type: 'string' },
  },
});
const url = args['database-url'];
if (url === undefined) throw new Error('--database-url is required');
const shark = args.shark as string;
const log = createLogger({ name: 'bench-discovery', level: 'warn' });
const FETCH_ROWS = 1000;

/** The baseline: what any scanner must do at least, with no code of ours in the way. */
async function rawScan(): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let objects = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await client.query(`DECLARE raw NO SCROLL CURSOR FOR SELECT * FROM manta WHERE type='object'`);
    for (;;) {
      const { rows } = await client.query<{ _value: string }>(`FETCH ${FETCH_ROWS} FROM raw`);
      for (const row of rows) {
        const value = JSON.parse(row._value) as { sharks: { manta_storage_id: string }[] };
        for (const copy of value.sharks) {
          if (copy.manta_storage_id === shark) {
            objects++;
            break;
          }
        }
      }
      if (rows.length < FETCH_ROWS) break;
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return objects;
}

async function discoveryScan(
  source: (close: { close(): Promise<void> }[]) => Promise<ShardSource>,
) {
  const opened: { close(): Promise<void> }[] = [];
  try {
    const discovery = discoverObjects({
      shark,
      shards: [await source(opened)],
      ...(args['chunk-size'] !== undefined ? { chunkSize: Number(args['chunk-size']) } : {}),
      ...(args.windows !== undefined ? { windowsInFlight: Number(args.windows) } : {}),
      ...(args['batch-size'] !== undefined ? { batchSize: Number(args['batch-size']) } : {}),
      log,
    });
    let objects = 0;
    for await (const event of discovery) {
      if (event.kind === 'object') objects++;
      else if (event.kind === 'malformed') throw new Error(`malformed: ${event.problem}`);
    }
    for (const s of discovery.stats().values()) retries += s.retries;
    return objects;
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
}

/** VmHWM (peak) or VmRSS (now) of this process, MiB. */
function memoryMiB(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync('/proc/self/status', 'utf8'),
  );
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

/** Windows or streams retried (moray mode: e.g. a connection the health check replaced). */
let retries = 0;

const mode = args.mode;
const rssBeforeMiB = memoryMiB('VmRSS');
const cpuBefore = process.cpuUsage();
const start = process.hrtime.bigint();
let objects: number;
if (mode === 'raw') {
  objects = await rawScan();
} else if (mode === 'direct') {
  objects = await discoveryScan(async (opened) => {
    const db = await openDatabase({ url, poolSize: 1, log });
    opened.push(db);
    return { shard: 1, mode: 'direct-db', db };
  });
} else if (mode === 'moray') {
  const port = Number(args.port);
  objects = await discoveryScan(async (opened) => {
    const client = new MorayClient({ host: '127.0.0.1', port, log });
    opened.push(client);
    return { shard: 1, mode: 'moray', client };
  });
} else {
  throw new Error(`--mode must be raw, moray or direct: ${mode}`);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  JSON.stringify({
    mode,
    objects,
    seconds: Number(seconds.toFixed(3)),
    objects_per_s: Math.round(objects / seconds),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    retries,
    rss_before_mib: rssBeforeMiB,
    vm_hwm_mib: memoryMiB('VmHWM'),
  }),
);
