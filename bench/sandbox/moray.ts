/**
 * Moray shard stand-in on real PostgreSQL: putObject/s, getObject/s and findObjects records/s
 * with many requests in flight over a few Fast connections, each beside the same operation done
 * as raw SQL through `pg` on a pool of the same size (the physical limit here). The shard runs
 * in its own process, as in the sandbox.
 *
 *   node --import tsx bench/sandbox/moray.ts [--database-url postgres://...] [--objects N]
 * (the URL defaults to REBALANCER_TEST_PG_URL; a scratch database is created and dropped).
 * The last line printed is the JSON summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { FastClient } from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { morayEtag } from '../../src/sandbox/moray/etag.ts';
import { MANTA_BUCKET, MANTA_STORAGE_BUCKET } from '../../src/sandbox/moray/manta-buckets.ts';

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    objects: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '4' },
    'in-flight': { type: 'string', default: '32' },
    'pool-size': { type: 'string', default: '8' },
  },
});
const adminUrl = args['database-url'] ?? process.env.REBALANCER_TEST_PG_URL;
if (!adminUrl) {
  console.error('needs real PostgreSQL: --database-url or REBALANCER_TEST_PG_URL');
  process.exit(2);
}
const OBJECTS = Number(args.objects);
const CONNECTIONS = Number(args.connections);
const IN_FLIGHT = Number(args['in-flight']);
const POOL = Number(args['pool-size']);
const PAGE = 1000;
const log = createLogger({ name: 'bench-sandbox-moray', level: 'warn' });

function mantaValue(key: string, i: number) {
  const owner = '61368287-aa5b-6c0f-f3a9-931a228215e4';
  const objectId = `${randomBytes(4).toString('hex')}-d132-c25c-920c-${String(i).padStart(12, '0')}`;
  return {
    dirname: `/${owner}/stor/bench`,
    key,
    headers: {},
    mtime: 1570611723062,
    name: `o${i}`,
    creator: owner,
    owner,
    roles: [],
    type: 'object',
    contentLength: 9099176,
    contentMD5: 'L9NrIZXTY37AYVZN9+gZ7w==',
    contentType: 'text/plain',
    etag: objectId,
    objectId,
    sharks: [
      { datacenter: 'ruidc0', manta_storage_id: '3.stor.east.joyent.us' },
      { datacenter: 'ruidc0', manta_storage_id: '1.stor.east.joyent.us' },
    ],
    vnode: i % 1024,
  };
}

const TRIALS = 3;

/**
 * Runs the raw and the moray measurement alternately TRIALS times and keeps the best of each,
 * so that noise from other work on a shared machine hits both sides alike.
 */
async function alternate(
  raw: () => Promise<number>,
  moray: () => Promise<number>,
): Promise<[number, number]> {
  let bestRaw = 0;
  let bestMoray = 0;
  for (let t = 0; t < TRIALS; t++) {
    bestRaw = Math.max(bestRaw, await raw());
    bestMoray = Math.max(bestMoray, await moray());
  }
  return [bestRaw, bestMoray];
}

/** Runs `total` operations with IN_FLIGHT workers; returns operations per second. */
async function drive(total: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await op(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return total / ((performance.now() - start) / 1000);
}

async function startShard(url: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/sandbox/moray/main.ts',
      '--port',
      '0',
      '--database-url',
      url,
      '--pool-size',
      String(POOL),
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const record = JSON.parse(line) as { msg?: string; port?: number };
    if (record.msg === 'moray shard listening' && typeof record.port === 'number') {
      // Keep draining the child's output so it never blocks on a full pipe.
      child.stdout!.resume();
      return { child, port: record.port };
    }
  }
  throw new Error('moray shard exited before listening');
}

const dbName = `bench_sandbox_moray_${process.pid}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${dbName}`;

const raw = new pg.Pool({ connectionString: dbUrl.toString(), max: POOL });
// Dropping the scratch database ends the pool's sessions; without a listener pg would throw.
raw.on('error', (err) => log.warn({ err }, 'raw pool connection ended'));
const { child, port } = await startShard(dbUrl.toString());
const clients = Array.from(
  { length: CONNECTIONS },
  () => new FastClient({ host: '127.0.0.1', port, reconnect: false, log }),
);
const client = (i: number): FastClient => clients[i % CONNECTIONS]!;
const opts = () => ({ headers: {}, no_count: false, sql_only: false, noCache: true });

try {
  await client(0).call('createBucket', ['manta', MANTA_BUCKET, {}]);
  await client(0).call('createBucket', ['manta_storage', MANTA_STORAGE_BUCKET, {}]);
  // The raw baseline writes to a twin table with the same layout and indexes.
  await raw.query('CREATE TABLE manta_raw (LIKE manta INCLUDING ALL)');
  await raw.query(
    "CREATE SEQUENCE manta_raw_serial; ALTER TABLE manta_raw ALTER COLUMN _id SET DEFAULT nextval('manta_raw_serial')",
  );

  const keys = Array.from(
    { length: OBJECTS },
    (_, i) => `/61368287-aa5b-6c0f-f3a9-931a228215e4/stor/bench/o${i}`,
  );
  const values = keys.map((k, i) => mantaValue(k, i));

  // Warm both paths (connections, plans, JIT) before measuring.
  for (let i = 0; i < 200; i++) {
    await client(i).call('getBucket', [{}, 'manta']);
    await raw.query('SELECT 1');
  }

  const rawInsert =
    'INSERT INTO manta_raw (_key, _value, _etag, _mtime, _vnode, dirname, name, owner, objectid, type) ' +
    'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (_key) DO UPDATE SET ' +
    '_value = EXCLUDED._value, _etag = EXCLUDED._etag, _mtime = EXCLUDED._mtime, _vnode = EXCLUDED._vnode, ' +
    'dirname = EXCLUDED.dirname, name = EXCLUDED.name, owner = EXCLUDED.owner, objectid = EXCLUDED.objectid, type = EXCLUDED.type';
  const rawPut = (i: number) => {
    const v = values[i]!;
    const json = JSON.stringify(v);
    return raw.query(rawInsert, [
      keys[i],
      json,
      morayEtag(json),
      Date.now(),
      v.vnode,
      v.dirname,
      v.name,
      v.owner,
      v.objectId,
      v.type,
    ]);
  };
  const morayPut = (i: number) =>
    client(i).call('putObject', ['manta', keys[i], values[i], opts()]);

  const [rawPutRate, putRate] = await alternate(
    () => drive(OBJECTS, rawPut),
    () => drive(OBJECTS, morayPut),
  );

  const etags = new Map<string, string>();
  const [rawGetRate, getRate] = await alternate(
    () =>
      drive(OBJECTS, (i) =>
        raw.query('SELECT * FROM manta_raw WHERE _key = $1', [keys[(i * 7919) % OBJECTS]]),
      ),
    () =>
      drive(OBJECTS, async (i) => {
        const key = keys[(i * 7919) % OBJECTS]!;
        const [record] = (await client(i).call('getObject', ['manta', key, opts()])) as {
          _etag: string;
        }[];
        etags.set(key, record!._etag);
      }),
  );

  // The rebalancer's metadata update: etag-conditional put of the record with new sharks.
  const moved = values.map((v) => ({
    ...v,
    sharks: [{ datacenter: 'ruidc0', manta_storage_id: '9.stor.east.joyent.us' }],
  }));
  const rawCondRate = await drive(OBJECTS, (i) => {
    const v = moved[i]!;
    const json = JSON.stringify(v);
    return raw.query(
      'UPDATE manta_raw SET _value = $2, _etag = $3, _mtime = $4, _vnode = $5, dirname = $6, name = $7, owner = $8, objectid = $9, type = $10 WHERE _key = $1 AND _etag = $11 RETURNING _id',
      [
        keys[i],
        json,
        morayEtag(json),
        Date.now(),
        v.vnode,
        v.dirname,
        v.name,
        v.owner,
        v.objectId,
        v.type,
        morayEtag(JSON.stringify(values[i])),
      ],
    );
  });
  const condRate = await drive(OBJECTS, (i) =>
    client(i).call('putObject', [
      'manta',
      keys[i],
      moved[i],
      { ...opts(), etag: etags.get(keys[i]!) ?? morayEtag(JSON.stringify(values[i])) },
    ]),
  );

  // findObjects: sharkspotter-style _id windows of PAGE records, several in flight.
  const { rows: bounds } = await raw.query(
    'SELECT MIN(_id)::int AS lo, MAX(_id)::int AS hi FROM manta',
  );
  const lo = Number(bounds[0].lo);
  const pages = Math.ceil(OBJECTS / PAGE);
  const rounds = 2;
  const findInFlight = Math.min(IN_FLIGHT, 8);
  const driveFind = async (op: (page: number) => Promise<number>): Promise<number> => {
    let next = 0;
    let records = 0;
    const worker = async (): Promise<void> => {
      while (next < pages * rounds) records += await op(next++ % pages);
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: findInFlight }, worker));
    return records / ((performance.now() - start) / 1000);
  };
  const { rows: rawBounds } = await raw.query('SELECT MIN(_id)::int AS lo FROM manta_raw');
  const rawLo = Number(rawBounds[0].lo);
  const rawFind = () =>
    driveFind(async (p) => {
      const from = rawLo + p * PAGE;
      const r = await raw.query(
        "SELECT * FROM manta_raw WHERE _id >= $1 AND _id <= $2 AND type = 'object' ORDER BY _id ASC LIMIT 1000",
        [from, from + PAGE - 1],
      );
      return r.rows.length;
    });
  const morayFind = () =>
    driveFind(async (p) => {
      const from = lo + p * PAGE;
      let n = 0;
      for await (const _record of client(p).request('findObjects', [
        'manta',
        `(&(_id>=${from})(_id<=${from + PAGE - 1})(type=object))`,
        { ...opts(), no_count: true, limit: PAGE, sort: { attribute: '_id', order: 'ASC' } },
      ])) {
        n++;
      }
      return n;
    });
  const [rawFindRate, findRate] = await alternate(rawFind, morayFind);
  // For reference: raw SQL plus the JSON.parse of `_value` every consumer of the rows does.
  const rawFindParsedRate = await driveFind(async (p) => {
    const from = rawLo + p * PAGE;
    const r = await raw.query(
      "SELECT * FROM manta_raw WHERE _id >= $1 AND _id <= $2 AND type = 'object' ORDER BY _id ASC LIMIT 1000",
      [from, from + PAGE - 1],
    );
    for (const row of r.rows) JSON.parse(row._value);
    return r.rows.length;
  });

  // One unbounded findObjects (server-side cursor) beside a raw cursor scan of the same rows.
  const scanStart = performance.now();
  let scanned = 0;
  for await (const _record of client(0).request('findObjects', [
    'manta',
    '(type=object)',
    { ...opts(), no_count: true, noLimit: true },
  ])) {
    scanned++;
  }
  const scanRate = scanned / ((performance.now() - scanStart) / 1000);
  const rawScanStart = performance.now();
  const conn = await raw.connect();
  let rawScanned = 0;
  try {
    await conn.query('BEGIN');
    await conn.query(
      "DECLARE c NO SCROLL CURSOR FOR SELECT * FROM manta_raw WHERE type = 'object'",
    );
    for (;;) {
      const r = await conn.query('FETCH 1000 FROM c');
      rawScanned += r.rows.length;
      if (r.rows.length < 1000) break;
    }
    await conn.query('COMMIT');
  } finally {
    conn.release();
  }
  const rawScanRate = rawScanned / ((performance.now() - rawScanStart) / 1000);

  const round = (n: number) => Math.round(n);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const figures = {
    objects: OBJECTS,
    connections: CONNECTIONS,
    in_flight: IN_FLIGHT,
    pool_size: POOL,
    put_per_s: round(putRate),
    raw_put_per_s: round(rawPutRate),
    put_ratio: ratio(putRate, rawPutRate),
    conditional_put_per_s: round(condRate),
    raw_conditional_update_per_s: round(rawCondRate),
    conditional_put_ratio: ratio(condRate, rawCondRate),
    get_per_s: round(getRate),
    raw_get_per_s: round(rawGetRate),
    get_ratio: ratio(getRate, rawGetRate),
    find_records_per_s: round(findRate),
    raw_find_records_per_s: round(rawFindRate),
    find_ratio: ratio(findRate, rawFindRate),
    raw_find_parsed_records_per_s: round(rawFindParsedRate),
    find_ratio_vs_parsed: ratio(findRate, rawFindParsedRate),
    scan_records_per_s: round(scanRate),
    raw_scan_records_per_s: round(rawScanRate),
    scan_ratio: ratio(scanRate, rawScanRate),
  };
  console.log('operation            moray/s    raw SQL/s   ratio');
  const line = (name: string, a: number, b: number) =>
    console.log(
      `${name.padEnd(20)} ${String(round(a)).padStart(9)} ${String(round(b)).padStart(11)}   ${ratio(a, b)}`,
    );
  line('putObject', putRate, rawPutRate);
  line('putObject (etag)', condRate, rawCondRate);
  line('getObject', getRate, rawGetRate);
  line('findObjects rec', findRate, rawFindRate);
  line('  vs raw + parse', findRate, rawFindParsedRate);
  line('findObjects scan', scanRate, rawScanRate);
  const targets = [
    { name: 'putObject vs raw SQL', value: figures.put_ratio, target: 0.5 },
    { name: 'getObject vs raw SQL', value: figures.get_ratio, target: 0.5 },
    { name: 'findObjects records vs raw SQL', value: figures.find_ratio, target: 0.7 },
  ].map((t) => ({ ...t, met: t.value >= t.target }));
  console.log(JSON.stringify({ bench: 'sandbox-moray', figures, targets }));
} finally {
  await Promise.all(clients.map((c) => c.close()));
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await raw.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
