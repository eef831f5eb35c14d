/**
 * Moray shard stand-in on real PostgreSQL: putObject/s, getObject/s and findObjects records/s
 * with many requests in flight over a few Fast connections, each beside the same operation done
 * as raw SQL through `pg` on a pool of the same size (the physical limit here). The shard runs
 * in its own process, as in the sandbox.
 *
 * Like with like: the raw side runs the statements the shard runs (prepared where the shard
 * prepares them), fetches the same rows in the same pages, and does what a client must to hold
 * the record (JSON.parse of `_value`; JSON.stringify and the etag for a put). The ratios of the
 * targets are against that; the ratios against bare unprepared SQL without any parse are
 * printed too. Raw and Moray trials alternate and the best of each is kept, so that noise from
 * other work on a shared machine hits both alike. CPU time per operation (this process and the
 * shard process) is reported as well: it is far less noisy than rates on a busy machine.
 *
 *   node --import tsx bench/sandbox/moray.ts [--database-url postgres://...] [--objects N]
 *     [--only put,get,cond,find,scan] [--profile-dir DIR]
 * (the URL defaults to REBALANCER_TEST_PG_URL; a scratch database is created and dropped).
 * The last line printed is the JSON summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { FastClient } from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { morayEtag } from '../../src/sandbox/moray/etag.ts';
import { MANTA_BUCKET, MANTA_STORAGE_BUCKET } from '../../src/sandbox/moray/manta-buckets.ts';

export interface MorayBenchOptions {
  adminUrl: string;
  objects: number;
  connections: number;
  inFlight: number;
  findInFlight: number;
  poolSize: number;
  only?: ReadonlySet<string>;
  profileDir?: string;
  trials: number;
}

export interface Target {
  name: string;
  value: number;
  target: number;
  met: boolean;
}

const PAGE = 1000;
const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';
const log = createLogger({ name: 'bench-sandbox-moray', level: 'warn' });

function mantaValue(key: string, i: number) {
  const objectId = `${randomBytes(4).toString('hex')}-d132-c25c-920c-${String(i).padStart(12, '0')}`;
  return {
    dirname: `/${OWNER}/stor/bench`,
    key,
    headers: {},
    mtime: 1570611723062,
    name: `o${i}`,
    creator: OWNER,
    owner: OWNER,
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

/** CPU time (ms) of this process and of the shard process so far. */
function cpuMs(child: ChildProcess): { self: number; shard: number } {
  const usage = process.cpuUsage();
  let shard = Number.NaN;
  try {
    // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (1/100 s).
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    shard = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    // No procfs (not Linux): CPU figures of the shard are left out as NaN → null.
  }
  return { self: (usage.user + usage.system) / 1000, shard };
}

interface Measured {
  rate: number;
  /** CPU µs per operation: this process, and the shard (Moray side only). */
  cpuSelf: number;
  cpuShard: number;
}

async function startShard(
  url: string,
  poolSize: number,
  profileDir: string | undefined,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      '--import',
      'tsx',
      'src/sandbox/moray/main.ts',
      '--port',
      '0',
      '--database-url',
      url,
      '--pool-size',
      String(poolSize),
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // Never leave the shard behind, whatever ends this process.
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
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

export async function runMorayBench(o: MorayBenchOptions): Promise<{
  figures: Record<string, number | null>;
  targets: Target[];
  table: string[];
}> {
  const wants = (phase: string): boolean => !o.only || o.only.has(phase);
  const dbName = `bench_sandbox_moray_${process.pid}`;
  const admin = new pg.Client({ connectionString: o.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(o.adminUrl);
  dbUrl.pathname = `/${dbName}`;

  const raw = new pg.Pool({ connectionString: dbUrl.toString(), max: o.poolSize });
  raw.on('error', (err) => log.warn({ err }, 'raw pool connection failed'));
  let shard: { child: ChildProcess; port: number } | undefined;
  let clients: FastClient[] = [];
  try {
    shard = await startShard(dbUrl.toString(), o.poolSize, o.profileDir);
    const { child, port } = shard;
    clients = Array.from(
      { length: o.connections },
      () => new FastClient({ host: '127.0.0.1', port, reconnect: false, log }),
    );
    const client = (i: number): FastClient => clients[i % o.connections]!;
    const opts = () => ({ headers: {}, no_count: false, sql_only: false, noCache: true });

    /** Runs `total` operations with `inFlight` workers, each returning how many it counts. */
    const drive = async (
      total: number,
      inFlight: number,
      op: (i: number) => Promise<number | undefined>,
    ): Promise<Measured> => {
      let next = 0;
      let counted = 0;
      const worker = async (): Promise<void> => {
        while (next < total) {
          // Read `counted` after the await: `counted += await op()` would lose updates.
          const n = await op(next++);
          counted += n ?? 1;
        }
      };
      const cpu0 = cpuMs(child);
      const start = performance.now();
      await Promise.all(Array.from({ length: inFlight }, worker));
      const seconds = (performance.now() - start) / 1000;
      const cpu1 = cpuMs(child);
      return {
        rate: counted / seconds,
        cpuSelf: ((cpu1.self - cpu0.self) * 1000) / counted,
        cpuShard: ((cpu1.shard - cpu0.shard) * 1000) / counted,
      };
    };
    const best = (a: Measured | undefined, b: Measured): Measured =>
      a && a.rate >= b.rate ? a : b;
    /** Alternates the raw variants and the Moray measurement; keeps the best of each. */
    const alternate = async (
      sides: Record<string, () => Promise<Measured>>,
    ): Promise<Record<string, Measured>> => {
      const out: Record<string, Measured> = {};
      for (let t = 0; t < o.trials; t++) {
        for (const [name, run] of Object.entries(sides)) out[name] = best(out[name], await run());
      }
      return out;
    };

    await client(0).call('createBucket', ['manta', MANTA_BUCKET, {}]);
    await client(0).call('createBucket', ['manta_storage', MANTA_STORAGE_BUCKET, {}]);
    // The raw baseline works on a twin table with the same layout and indexes.
    await raw.query('CREATE TABLE manta_raw (LIKE manta INCLUDING ALL)');
    await raw.query(
      "CREATE SEQUENCE manta_raw_serial; ALTER TABLE manta_raw ALTER COLUMN _id SET DEFAULT nextval('manta_raw_serial')",
    );

    const N = o.objects;
    const keys = Array.from({ length: N }, (_, i) => `/${OWNER}/stor/bench/o${i}`);
    const values = keys.map((k, i) => mantaValue(k, i));

    // Warm both paths (connections, plans, JIT) before measuring.
    for (let i = 0; i < 200; i++) {
      await client(i).call('getBucket', [{}, 'manta']);
      await raw.query('SELECT 1');
    }

    // The statements the shard runs (src/sandbox/moray/statements.ts), on the twin table.
    const columns = '_key, _value, _etag, _mtime, _vnode, dirname, name, owner, objectid, type';
    const upsert =
      `INSERT INTO manta_raw (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ` +
      'ON CONFLICT (_key) DO UPDATE SET _value = EXCLUDED._value, _etag = EXCLUDED._etag, ' +
      '_mtime = EXCLUDED._mtime, _vnode = EXCLUDED._vnode, dirname = EXCLUDED.dirname, ' +
      'name = EXCLUDED.name, owner = EXCLUDED.owner, objectid = EXCLUDED.objectid, type = EXCLUDED.type';
    const select =
      'SELECT _id, _key, _value, _etag, _mtime, _txn_snap, dirname, name, owner, objectid, type FROM manta_raw WHERE _key = $1';
    const putParams = (v: ReturnType<typeof mantaValue>, key: string): unknown[] => {
      const json = JSON.stringify(v);
      return [
        key,
        json,
        morayEtag(json),
        Date.now(),
        v.vnode,
        v.dirname,
        v.name,
        v.owner,
        v.objectId,
        v.type,
      ];
    };

    const figures: Record<string, number | null> = {
      objects: N,
      connections: o.connections,
      in_flight: o.inFlight,
      find_in_flight: o.findInFlight,
      pool_size: o.poolSize,
    };
    const table: string[] = [];
    const targets: Target[] = [];
    const round = (n: number): number | null => (Number.isFinite(n) ? Math.round(n) : null);
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const tenths = (n: number): number | null =>
      Number.isFinite(n) ? Math.round(n * 10) / 10 : null;
    const record = (
      name: string,
      label: string,
      r: Record<string, Measured>,
      target?: number,
    ): void => {
      const moray = r.moray!;
      const like = r.raw!;
      const bare = r.bare!;
      figures[`${name}_per_s`] = round(moray.rate);
      figures[`raw_${name}_per_s`] = round(like.rate);
      figures[`${name}_ratio`] = ratio(moray.rate, like.rate);
      figures[`bare_raw_${name}_per_s`] = round(bare.rate);
      figures[`${name}_ratio_vs_bare`] = ratio(moray.rate, bare.rate);
      figures[`${name}_cpu_us_client`] = tenths(moray.cpuSelf);
      figures[`${name}_cpu_us_shard`] = tenths(moray.cpuShard);
      figures[`raw_${name}_cpu_us_client`] = tenths(like.cpuSelf);
      table.push(
        `${label.padEnd(18)} ${String(round(moray.rate)).padStart(9)} ${String(round(like.rate)).padStart(9)} ${String(ratio(moray.rate, like.rate)).padStart(6)}   ${String(round(bare.rate)).padStart(9)} ${String(ratio(moray.rate, bare.rate)).padStart(6)}   ${(moray.cpuSelf + moray.cpuShard).toFixed(1).padStart(6)} ${like.cpuSelf.toFixed(1).padStart(6)}`,
      );
      if (target !== undefined) {
        const value = ratio(moray.rate, like.rate);
        targets.push({ name: `${label} vs raw SQL`, value, target, met: value >= target });
      }
    };

    // putObject: every trial rewrites all N keys (upserts after the first).
    record(
      'put',
      'putObject',
      await alternate({
        bare: () =>
          drive(N, o.inFlight, async (i) => {
            await raw.query(upsert, putParams(values[i]!, keys[i]!));
            return 1;
          }),
        raw: () =>
          drive(N, o.inFlight, async (i) => {
            await raw.query({ name: 'put', text: upsert, values: putParams(values[i]!, keys[i]!) });
            return 1;
          }),
        moray: () =>
          drive(N, o.inFlight, async (i) => {
            await client(i).call('putObject', ['manta', keys[i], values[i], opts()]);
            return 1;
          }),
      }),
      0.5,
    );

    const etags = new Map<string, string>();
    if (wants('get')) {
      const pick = (i: number): string => keys[(i * 7919) % N]!;
      record(
        'get',
        'getObject',
        await alternate({
          bare: () =>
            drive(N, o.inFlight, async (i) => {
              await raw.query('SELECT * FROM manta_raw WHERE _key = $1', [pick(i)]);
              return 1;
            }),
          raw: () =>
            drive(N, o.inFlight, async (i) => {
              const r = await raw.query({ name: 'get', text: select, values: [pick(i)] });
              JSON.parse(r.rows[0]._value);
              return 1;
            }),
          moray: () =>
            drive(N, o.inFlight, async (i) => {
              const key = pick(i);
              const [found] = (await client(i).call('getObject', ['manta', key, opts()])) as {
                _etag: string;
              }[];
              etags.set(key, found!._etag);
              return 1;
            }),
        }),
        0.5,
      );
    }

    if (wants('cond')) {
      // The rebalancer's metadata update: etag-conditional put of the record with new sharks.
      // One pass each (a pass changes every etag, so trials would not repeat the same work).
      const moved = values.map((v) => ({
        ...v,
        sharks: [{ datacenter: 'ruidc0', manta_storage_id: '9.stor.east.joyent.us' }],
      }));
      const update =
        'UPDATE manta_raw SET _value = $2, _etag = $3, _mtime = $4, _vnode = $5, dirname = $6, name = $7, owner = $8, objectid = $9, type = $10 WHERE _key = $1 AND _etag = $11 RETURNING _id';
      const oldEtag = (i: number) => morayEtag(JSON.stringify(values[i]));
      const rawCond = await drive(N, o.inFlight, async (i) => {
        const params = [...putParams(moved[i]!, keys[i]!), oldEtag(i)];
        await raw.query({ name: 'cond', text: update, values: params });
        return 1;
      });
      const morayCond = await drive(N, o.inFlight, async (i) => {
        const etag = etags.get(keys[i]!) ?? oldEtag(i);
        await client(i).call('putObject', ['manta', keys[i], moved[i], { ...opts(), etag }]);
        return 1;
      });
      record('conditional_put', 'putObject (etag)', {
        moray: morayCond,
        raw: rawCond,
        bare: rawCond,
      });
    }

    if (wants('find')) {
      // sharkspotter-style _id windows of PAGE records, several in flight: the SQL the shard
      // builds for `(&(_id>=a)(_id<=b)(type=object))` with `sort _id ASC, limit 1000`.
      const lo = async (table: string) =>
        Number((await raw.query(`SELECT MIN(_id)::int AS lo FROM ${table}`)).rows[0].lo);
      const morayLo = await lo('manta');
      const rawLo = await lo('manta_raw');
      const pages = Math.ceil(N / PAGE);
      const total = pages * 2;
      const findSql =
        'SELECT * FROM manta_raw WHERE  ( ( $1 <= _id AND _id IS NOT NULL ) ) AND ( ( $2 >= _id AND _id IS NOT NULL ) ) AND ( ( $3 = type AND type IS NOT NULL ) )  ORDER BY _id ASC LIMIT 1000';
      const rawPage = async (p: number, parse: boolean): Promise<number> => {
        const from = rawLo + (p % pages) * PAGE;
        const r = await raw.query(findSql, [from, from + PAGE - 1, 'object']);
        if (parse) for (const row of r.rows) JSON.parse(row._value);
        return r.rows.length;
      };
      record(
        'find_records',
        'findObjects rec',
        await alternate({
          bare: () => drive(total, o.findInFlight, (p) => rawPage(p, false)),
          raw: () => drive(total, o.findInFlight, (p) => rawPage(p, true)),
          moray: () =>
            drive(total, o.findInFlight, async (p) => {
              const from = morayLo + (p % pages) * PAGE;
              let n = 0;
              for await (const _record of client(p).request('findObjects', [
                'manta',
                `(&(_id>=${from})(_id<=${from + PAGE - 1})(type=object))`,
                {
                  ...opts(),
                  no_count: true,
                  limit: PAGE,
                  sort: { attribute: '_id', order: 'ASC' },
                },
              ])) {
                n++;
              }
              return n;
            }),
        }),
        0.7,
      );
    }

    if (wants('scan')) {
      // One unbounded findObjects (server-side cursor) beside a raw cursor scan of the same rows.
      const rawScan = async (parse: boolean): Promise<number> => {
        const conn = await raw.connect();
        let n = 0;
        try {
          await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
          await conn.query(
            'DECLARE c NO SCROLL CURSOR FOR SELECT * FROM manta_raw WHERE  ( ( $1 = type AND type IS NOT NULL ) )',
            ['object'],
          );
          for (;;) {
            const r = await conn.query('FETCH 1000 FROM c');
            if (parse) for (const row of r.rows) JSON.parse(row._value);
            n += r.rows.length;
            if (r.rows.length < 1000) break;
          }
          await conn.query('COMMIT');
        } finally {
          conn.release();
        }
        return n;
      };
      record(
        'scan_records',
        'findObjects scan',
        await alternate({
          bare: () => drive(1, 1, () => rawScan(false)),
          raw: () => drive(1, 1, () => rawScan(true)),
          moray: () =>
            drive(1, 1, async () => {
              let n = 0;
              for await (const _record of client(0).request('findObjects', [
                'manta',
                '(type=object)',
                { ...opts(), no_count: true, noLimit: true },
              ])) {
                n++;
              }
              return n;
            }),
        }),
      );
    }
    return { figures, targets, table };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    if (shard) {
      const exited = new Promise((resolve) => shard!.child.once('exit', resolve));
      shard.child.kill('SIGTERM');
      await exited;
    }
    await raw.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

export const TABLE_HEADER =
  'operation             moray/s     raw/s  ratio   bare raw/s  ratio   cpu µs/op (moray, raw)';

export function morayOptionsFromArgs(argv: string[]): MorayBenchOptions {
  const { values: args } = parseArgs({
    args: argv,
    allowPositionals: false,
    strict: false,
    options: {
      'database-url': { type: 'string' },
      objects: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '4' },
      'in-flight': { type: 'string', default: '32' },
      'find-in-flight': { type: 'string', default: '8' },
      'pool-size': { type: 'string', default: '8' },
      trials: { type: 'string', default: '3' },
      only: { type: 'string' },
      /** Writes a V8 CPU profile of the shard process into this directory. */
      'profile-dir': { type: 'string' },
    },
  });
  const adminUrl =
    (args['database-url'] as string | undefined) ?? process.env.REBALANCER_TEST_PG_URL;
  if (!adminUrl) {
    console.error('needs real PostgreSQL: --database-url or REBALANCER_TEST_PG_URL');
    process.exit(2);
  }
  const only = args.only as string | undefined;
  return {
    adminUrl,
    objects: Number(args.objects),
    connections: Number(args.connections),
    inFlight: Number(args['in-flight']),
    findInFlight: Number(args['find-in-flight']),
    poolSize: Number(args['pool-size']),
    trials: Number(args.trials),
    only: only ? new Set(only.split(',')) : undefined,
    profileDir: args['profile-dir'] as string | undefined,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { figures, targets, table } = await runMorayBench(
    morayOptionsFromArgs(process.argv.slice(2)),
  );
  console.log(TABLE_HEADER);
  for (const line of table) console.log(line);
  console.log(JSON.stringify({ bench: 'sandbox-moray', figures, targets }));
}
