/**
 * The audit figure of bench/audit (see index.ts): one Moray shard of `objects` records
 * (bench/discovery's fill: a quarter naming the shark, a third of those with no other copy)
 * behind the Moray stand-in, and one mako process serving a file for every other copy (sparse,
 * of the record's size) that every storage id is aliased to. Alternating rounds, each run in
 * its own process (measure.ts), best of each:
 *  - scan: discoverObjects over the stand-in, the audit's discovery alone;
 *  - audit: auditShark as the manager runs it (HEAD of the other copies, counts and cursors in
 *    the store), its report checked against the fill;
 *  - pipeline (diagnostic): the same audit with every copy check answered in-process.
 * Figure: audit objects/s over scan objects/s, target >= 0.5. CPU seconds of each process
 * (audit, stand-in, mako) say where the time goes — on one machine the mako's CPU is taken
 * from the audit's, in a deployment it is the storage nodes' — and the machine's loopback
 * HTTP rate (bench/support/calibrate.ts) says how fast HTTP is here today. The databases and
 * files are removed.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../../src/db/index.ts';
import { createSandboxDatabase, dropSandboxDatabase } from '../../src/sandbox/postgres.ts';
import { entryPoint, startService, stopProcess } from '../../src/sandbox/process.ts';
import { fillShard, TARGET_SHARK } from '../discovery/fill.ts';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { writeCopyFiles } from './files.ts';

export interface AuditBenchOptions {
  /** Administrative URL of the PostgreSQL server the databases are made on. */
  adminUrl: string;
  /** Records in the shard, a multiple of 400. */
  objects: number;
  rounds: number;
  /** The mako closes every connection, as real nginx does (default: keep-alive). */
  makoClose: boolean;
}

const TARGET_RATIO = 0.5;
const run = promisify(execFile);

interface Measured {
  mode: 'scan' | 'audit' | 'pipeline';
  objects: number;
  seconds: number;
  objects_per_s: number;
  cpu_s: number;
  vm_hwm_mib: number;
  shard_cpu_s: number;
  mako_cpu_s: number;
}

/** user + system CPU seconds of a process so far (/proc/<pid>/stat, ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const seconds = (from: number) => Number(((performance.now() - from) / 1000).toFixed(1));

export async function measureAudit(options: AuditBenchOptions): Promise<{
  figures: Record<string, number | boolean>;
  targets: { name: string; value: number; target: number; met: boolean }[];
}> {
  const { adminUrl, objects, rounds } = options;
  const dir = await mkdtemp(join(tmpdir(), 'bench-audit-'));
  const urls: string[] = [];
  const pids: number[] = [];
  try {
    const shardUrl = await createSandboxDatabase(adminUrl, 'bench_audit_shard');
    urls.push(shardUrl);
    const storeUrl = await createSandboxDatabase(adminUrl, 'bench_audit_store');
    urls.push(storeUrl);
    const db = await openDatabase({ url: shardUrl });
    let files: Awaited<ReturnType<typeof writeCopyFiles>>;
    const t0 = performance.now();
    try {
      await fillShard(db, objects);
      const fillSeconds = seconds(t0);
      const t1 = performance.now();
      files = await writeCopyFiles(db, TARGET_SHARK, join(dir, 'mako'));
      console.error(
        `filled ${objects} records in ${fillSeconds} s; ${files.onShark} on the shark ` +
          `(${files.onlyCopy} only there), their copy files in ${seconds(t1)} s`,
      );
    } finally {
      await db.close();
    }
    const shard = await startService({
      name: 'moray',
      entry: entryPoint('sandbox/moray/main'),
      args: ['--port', '0', '--database-url', shardUrl, '--log-level', 'info'],
      log: join(dir, 'moray.log'),
    });
    pids.push(shard.process.pid);
    const mako = await startService({
      name: 'mako',
      entry: entryPoint('sandbox/mako/main'),
      args: [
        '--root',
        join(dir, 'mako'),
        '--port',
        '0',
        '--no-content-md5',
        ...(options.makoClose ? [] : ['--keep-alive']),
      ],
      log: join(dir, 'mako.log'),
    });
    pids.push(mako.process.pid);

    const measure = async (mode: Measured['mode']): Promise<Measured> => {
      const shardCpu = cpuSeconds(shard.process.pid);
      const makoCpu = cpuSeconds(mako.process.pid);
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/audit/measure.ts',
          '--mode',
          mode,
          '--shard-port',
          String(shard.address.port),
          '--mako-port',
          String(mako.address.port),
          '--store-url',
          storeUrl,
          '--on-shark',
          String(files.onShark),
          '--only-copy',
          String(files.onlyCopy),
        ],
        { maxBuffer: 1 << 20 },
      );
      const m = {
        ...(JSON.parse(stdout.trim().split('\n').at(-1) as string) as Omit<
          Measured,
          'shard_cpu_s' | 'mako_cpu_s'
        >),
        shard_cpu_s: Number((cpuSeconds(shard.process.pid) - shardCpu).toFixed(2)),
        mako_cpu_s: Number((cpuSeconds(mako.process.pid) - makoCpu).toFixed(2)),
      };
      if (m.objects !== files.onShark) {
        throw new Error(`${mode} found ${m.objects} objects, the fill put ${files.onShark}`);
      }
      console.error(
        `  ${mode.padEnd(5)} ${m.seconds.toFixed(2)} s  ${m.objects_per_s} objects/s  ` +
          `cpu ${m.cpu_s} s (stand-in ${m.shard_cpu_s} s, mako ${m.mako_cpu_s} s)  ` +
          `peak RSS ${m.vm_hwm_mib} MiB`,
      );
      return m;
    };
    const best = new Map<Measured['mode'], Measured>();
    for (let round = 1; round <= rounds; round++) {
      console.error(`round ${round}:`);
      for (const mode of ['scan', 'audit', 'pipeline'] as const) {
        const m = await measure(mode);
        const prev = best.get(mode);
        best.set(mode, prev === undefined || m.seconds < prev.seconds ? m : prev);
      }
    }
    const scan = best.get('scan') as Measured;
    const audit = best.get('audit') as Measured;
    const pipeline = best.get('pipeline') as Measured;
    const ratio = Number((audit.objects_per_s / scan.objects_per_s).toFixed(3));
    const loopback = Math.round(await loopbackHttpRate());
    // The manager's side only: its CPU and the stand-in's, not the storage nodes' (the mako).
    const managerCpuRatio = Number(
      ((scan.cpu_s + scan.shard_cpu_s) / (audit.cpu_s + audit.shard_cpu_s)).toFixed(3),
    );
    const figures = {
      records: objects,
      on_shark: files.onShark,
      only_copy: files.onlyCopy,
      heads: files.onShark - files.onlyCopy,
      rounds: rounds,
      mako_keep_alive: !options.makoClose,
      scan_objects_per_s: scan.objects_per_s,
      audit_objects_per_s: audit.objects_per_s,
      audit_heads_per_s: Math.round((files.onShark - files.onlyCopy) / audit.seconds),
      audit_ratio: ratio,
      audit_manager_cpu_ratio: managerCpuRatio,
      pipeline_objects_per_s: pipeline.objects_per_s,
      pipeline_ratio: Number((pipeline.objects_per_s / scan.objects_per_s).toFixed(3)),
      loopback_http_requests_per_s: loopback,
      scan_seconds: scan.seconds,
      audit_seconds: audit.seconds,
      scan_cpu_s: scan.cpu_s,
      audit_cpu_s: audit.cpu_s,
      scan_shard_cpu_s: scan.shard_cpu_s,
      audit_shard_cpu_s: audit.shard_cpu_s,
      audit_mako_cpu_s: audit.mako_cpu_s,
      scan_peak_rss_mib: scan.vm_hwm_mib,
      audit_peak_rss_mib: audit.vm_hwm_mib,
    };
    const targets = [
      { name: 'audit_ratio', value: ratio, target: TARGET_RATIO, met: ratio >= TARGET_RATIO },
    ];
    return { figures, targets };
  } finally {
    for (const pid of pids) await stopProcess(pid);
    for (const url of urls) await dropSandboxDatabase(url);
    await rm(dir, { recursive: true, force: true });
  }
}
