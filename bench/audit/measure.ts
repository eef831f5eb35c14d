/**
 * One measured run of the audit benchmark, in its own process (its CPU and peak RSS its own):
 *   node --import tsx bench/audit/measure.ts --mode scan|audit --shard-port N --mako-port N
 *     --store-url URL --on-shark N --only-copy N
 * `scan` is the yardstick: discoverObjects over the Moray stand-in, the audit's discovery with
 * nothing else (each object found and dropped). `audit` is auditShark as the manager runs it —
 * its deps built by auditDeps from a config (host_aliases: every storage id to the one mako),
 * the store on PostgreSQL — and checks its report against the fill. `pipeline` is the same
 * audit with each copy check answered in this process at once, no HTTP: what the audit costs
 * beside its HEADs (a diagnostic, never the figure). Prints one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openDatabase } from '../../src/db/index.ts';
import { discoverObjects } from '../../src/discovery/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { auditShark } from '../../src/manager/audit/audit.ts';
import { auditDeps } from '../../src/manager/audit/deps.ts';
import { parseConfig } from '../../src/manager/config.ts';
import { ManagerStore } from '../../src/manager/store/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import { DOMAIN, TARGET_SHARK } from '../discovery/fill.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string' },
    'shard-port': { type: 'string' },
    'mako-port': { type: 'string' },
    'store-url': { type: 'string' },
    'on-shark': { type: 'string' },
    'only-copy': { type: 'string' },
  },
});
const log = createLogger({ name: 'bench-audit', level: 'warn' });
const client = new MorayClient({ host: '127.0.0.1', port: Number(args['shard-port']), log });
const shards = () => [{ shard: 1, mode: 'moray' as const, client }];
// L's defaults, as a manager would scan: md_read_chunk_size 10,000, max_md_read_threads 10.
const config = parseConfig({
  domain_name: DOMAIN,
  shards: [{ host: `1.moray.${DOMAIN}` }],
  host_aliases: Object.fromEntries(
    Array.from({ length: 107 }, (_, i) => [
      `${i + 1}.stor.${DOMAIN}:80`,
      `127.0.0.1:${args['mako-port']}`,
    ]),
  ),
});

function vmHwmMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

async function scan(): Promise<{ objects: number }> {
  let objects = 0;
  const discovery = discoverObjects({
    shark: TARGET_SHARK,
    shards: shards(),
    chunkSize: config.options.md_read_chunk_size,
    concurrency: config.options.max_md_read_threads,
    log,
  });
  for await (const event of discovery) if (event.kind === 'object') objects++;
  return { objects };
}

async function audit(): Promise<{ objects: number; report: unknown }> {
  const db = await openDatabase({ url: args['store-url'] as string, poolSize: 4, log });
  const store = await ManagerStore.open(db);
  const real = auditDeps({ shards, config: () => config, log });
  const instant = { check: async () => 'present' as const, close: () => Promise.resolve() };
  const deps =
    args.mode === 'pipeline'
      ? { source: real.source, concurrency: real.concurrency, copies: instant }
      : real;
  try {
    const shark = { manta_storage_id: TARGET_SHARK, datacenter: 'ruidc1' };
    const job = await store.createJob({
      id: randomUUID(),
      action: 'audit',
      params: { from_shark: TARGET_SHARK, max_objects: null, deep: false },
      fromShark: shark,
      metadataThreads: 1,
    });
    const report = await auditShark(deps, {
      jobId: job.id,
      shark,
      deep: false,
      signal: new AbortController().signal,
      log,
      store,
    });
    const onlyCopy = Number(args['only-copy']);
    const expected = {
      objects: Number(args['on-shark']),
      safe: Number(args['on-shark']) - onlyCopy,
      only_copy: onlyCopy,
    };
    const got = {
      objects: report.scanned.objects,
      safe: report.safe,
      only_copy: report.unsafe.by_reason.only_copy,
    };
    if (JSON.stringify(got) !== JSON.stringify(expected) || report.unsafe.total !== onlyCopy) {
      throw new Error(
        `audit report ${JSON.stringify(report.unsafe)} ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
      );
    }
    return {
      objects: report.scanned.objects,
      report: { safe: report.safe, unsafe: report.unsafe },
    };
  } finally {
    await real.copies.close();
    await db.close();
  }
}

const cpuBefore = process.cpuUsage();
const start = process.hrtime.bigint();
const result = args.mode === 'scan' ? await scan() : await audit();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuBefore);
await client.close();
console.log(
  JSON.stringify({
    mode: args.mode,
    ...result,
    seconds: Number(seconds.toFixed(3)),
    objects_per_s: Math.round(result.objects / seconds),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    vm_hwm_mib: vmHwmMiB(),
  }),
);
