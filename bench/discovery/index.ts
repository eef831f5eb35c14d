/**
 * Discovery benchmark on real PostgreSQL (`npm run bench -- discovery`):
 * one shard of `--objects` object records (default 1,000,000; a quarter on the target shark,
 * plus one directory per 100 objects) in a fresh database laid out as Moray's. Each scan runs in
 * its own process (peak RSS measured per mode), alternately for `--rounds` rounds, best of each:
 *  - raw: `pg` streaming the same rows through a cursor, parsing `_value`, matching the shark;
 *  - moray: discovery through the Moray stand-in (src/sandbox/moray/main.ts, its own process as
 *    in the sandbox) with the `sql` RPC windows;
 *  - direct: discovery straight from the database.
 * Rates are records (object rows) scanned per second; `found` rates count the quarter on the
 * shark. Beside wall-clock rates (what the targets use), the CPU seconds of each scanner and of
 * the stand-in show the cost per mode independently of other load on the machine; peak RSS
 * (VmHWM) is given with the RSS after loading the code, before the scan.
 * Then the picker: choices/s for 10,000 objects over 100 sharks. The database is dropped.
 *
 *   npm run bench -- discovery [--database-url postgres://...] [--objects N] [--rounds N]
 * (the URL defaults to REBALANCER_TEST_PG_URL). Last line: one JSON summary.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../../src/db/index.ts';
import { measurePicker } from '../placement/picks.ts';
import { fillShard } from './fill.ts';

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    objects: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '2' },
    'chunk-size': { type: 'string' },
  },
});
const adminUrl = args['database-url'] ?? process.env.REBALANCER_TEST_PG_URL;
if (!adminUrl) {
  console.error('discovery bench needs real PostgreSQL: --database-url or REBALANCER_TEST_PG_URL');
  process.exit(2);
}
const OBJECTS = Number(args.objects);
const ROUNDS = Number(args.rounds);
const TARGETS = { morayRatio: 0.5, directRatio: 0.8, peakRssMiB: 200, choicesPerS: 100_000 };
const run = promisify(execFile);

interface Scan {
  mode: 'raw' | 'moray' | 'direct';
  objects: number;
  seconds: number;
  objects_per_s: number;
  cpu_s: number;
  retries: number;
  rss_before_mib: number;
  vm_hwm_mib: number;
  /** CPU seconds the Moray stand-in spent during the scan. */
  shard_cpu_s: number;
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
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stdout = child.stdout;
  if (!stdout) throw new Error('moray shard has no stdout');
  for await (const line of createInterface({ input: stdout })) {
    const record = JSON.parse(line) as { msg?: string; port?: number };
    if (record.msg === 'moray shard listening' && typeof record.port === 'number') {
      stdout.resume(); // keep draining so the child never blocks on a full pipe
      return { child, port: record.port };
    }
  }
  throw new Error('moray shard exited before listening');
}

/** user + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function scan(
  mode: Scan['mode'],
  url: string,
  shard: { child: ChildProcess; port: number },
): Promise<Scan> {
  const port = shard.port;
  const shardCpuBefore = cpuSeconds(shard.child.pid);
  const extra = args['chunk-size'] !== undefined ? ['--chunk-size', args['chunk-size']] : [];
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/discovery/scan.ts',
      '--mode',
      mode,
      '--database-url',
      url,
      '--port',
      String(port),
      ...extra,
    ],
    { maxBuffer: 1 << 20 },
  );
  const result = {
    ...(JSON.parse(stdout.trim().split('\n').at(-1) as string) as Omit<Scan, 'shard_cpu_s'>),
    shard_cpu_s: Number((cpuSeconds(shard.child.pid) - shardCpuBefore).toFixed(2)),
  };
  if (result.objects !== OBJECTS / 4) {
    throw new Error(`${mode} scan found ${result.objects} objects, expected ${OBJECTS / 4}`);
  }
  console.log(
    `  ${mode.padEnd(6)} ${result.seconds.toFixed(2)} s  ` +
      `${Math.round(OBJECTS / result.seconds)} records/s  ${result.objects_per_s} found/s  ` +
      `cpu ${result.cpu_s} s (stand-in ${result.shard_cpu_s} s)  retries ${result.retries}  ` +
      `RSS ${result.rss_before_mib} → peak ${result.vm_hwm_mib} MiB`,
  );
  return result;
}

function vmHwmMiB(pid: number | undefined): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

const dbName = `bench_discovery_${process.pid}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${dbName}`;
const url = dbUrl.toString();
let shard: { child: ChildProcess; port: number } | undefined;
try {
  const db = await openDatabase({ url });
  const fillStart = process.hrtime.bigint();
  try {
    const filled = await fillShard(db, OBJECTS);
    const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;
    console.log(
      `filled: ${filled.objects} objects (${filled.onShark} on the shark), ` +
        `${filled.directories} directories in ${fillSeconds.toFixed(1)} s`,
    );
  } finally {
    await db.close();
  }
  shard = await startShard(url);
  const best = new Map<Scan['mode'], Scan>();
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}:`);
    for (const mode of ['raw', 'moray', 'direct'] as const) {
      const result = await scan(mode, url, shard);
      const prev = best.get(mode);
      best.set(mode, {
        ...(prev === undefined || result.seconds < prev.seconds ? result : prev),
        // Peak memory and retries: the worst round, not the best.
        vm_hwm_mib: Math.max(prev?.vm_hwm_mib ?? 0, result.vm_hwm_mib),
        retries: Math.max(prev?.retries ?? 0, result.retries),
      });
    }
  }
  const shardRssMiB = vmHwmMiB(shard.child.pid);
  const picker = measurePicker({ objects: 10_000, sharks: 100 });
  console.log(
    `picker: ${picker.objects} objects over ${picker.sharks} sharks: ` +
      `${picker.choicesPerS} choices/s (${picker.placed} placed, ${picker.skipped} skipped)`,
  );

  const raw = best.get('raw') as Scan;
  const moray = best.get('moray') as Scan;
  const direct = best.get('direct') as Scan;
  const perS = (s: Scan) => Math.round(OBJECTS / s.seconds);
  const ratio = (s: Scan) => Number((raw.seconds / s.seconds).toFixed(3));
  const peakRss = Math.max(moray.vm_hwm_mib, direct.vm_hwm_mib);
  const figures = {
    objects: OBJECTS,
    on_shark: OBJECTS / 4,
    rounds: ROUNDS,
    raw_objects_per_s: perS(raw),
    moray_objects_per_s: perS(moray),
    direct_objects_per_s: perS(direct),
    raw_found_per_s: raw.objects_per_s,
    moray_found_per_s: moray.objects_per_s,
    direct_found_per_s: direct.objects_per_s,
    moray_ratio: ratio(moray),
    direct_ratio: ratio(direct),
    // CPU cost ratios (raw scanner CPU over the mode's scanner + stand-in CPU; PostgreSQL's own
    // CPU not counted): what the wall-clock ratios tend to on an idle machine with cores to spare.
    moray_cpu_ratio: Number((raw.cpu_s / (moray.cpu_s + moray.shard_cpu_s)).toFixed(3)),
    direct_cpu_ratio: Number((raw.cpu_s / direct.cpu_s).toFixed(3)),
    raw_cpu_s: raw.cpu_s,
    moray_cpu_s: moray.cpu_s,
    moray_shard_cpu_s: moray.shard_cpu_s,
    direct_cpu_s: direct.cpu_s,
    moray_retries: moray.retries,
    direct_retries: direct.retries,
    rss_after_load_mib: moray.rss_before_mib,
    raw_peak_rss_mib: raw.vm_hwm_mib,
    moray_peak_rss_mib: moray.vm_hwm_mib,
    direct_peak_rss_mib: direct.vm_hwm_mib,
    moray_shard_peak_rss_mib: shardRssMiB,
    picker_objects: picker.objects,
    picker_sharks: picker.sharks,
    picker_choices_per_s: picker.choicesPerS,
  };
  const target = (name: string, value: number, goal: number, op: '>=' | '<') => ({
    name,
    value,
    target: goal,
    op,
    met: op === '>=' ? value >= goal : value < goal,
  });
  console.log(
    JSON.stringify({
      bench: 'discovery',
      figures,
      targets: [
        target('moray_ratio', figures.moray_ratio, TARGETS.morayRatio, '>='),
        target('direct_ratio', figures.direct_ratio, TARGETS.directRatio, '>='),
        target('peak_rss_mib', peakRss, TARGETS.peakRssMiB, '<'),
        target('picker_choices_per_s', picker.choicesPerS, TARGETS.choicesPerS, '>='),
      ],
    }),
  );
} finally {
  if (shard) {
    const exited = new Promise((resolve) => shard?.child.once('exit', resolve));
    shard.child.kill('SIGTERM');
    await exited;
  }
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
