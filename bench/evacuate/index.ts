/**
 * Evacuate benchmark (`npm run bench -- evacuate [--objects N] [--rss-objects M]`): a sandbox
 * with 6 makos in 2 datacenters and 2 Moray shards on real PostgreSQL (REBALANCER_TEST_PG_URL,
 * else postgres://postgres@127.0.0.1:5432/postgres), one agent per shark and the manager as
 * child processes. Shark 1 holds N small objects (4–64 KiB, log-uniform), each with a second
 * copy on another shark; one evacuate job moves them all. Measured: objects/s end to end (job
 * created → Complete), the manager's peak RSS (VmHWM), and where the objects waited: the time
 * until discovery had recorded them all, placement had assigned them all, agents had copied
 * them all, metadata was updated, and object-seconds spent in each state (the bottleneck
 * holds the most). With --rss-objects M a second sandbox evacuates M objects for the memory
 * target (peak RSS flat between N and M). --manager-config '<json>' sets manager config keys
 * (top level, e.g. {"options": {...}}) over the sandbox's; by default the throughput tuning of
 * docs/operations.md ('{}': the defaults). Last line: one JSON
 *   {"bench":"evacuate","figures":{...},"targets":[{name,value,target,met}]}.
 */

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { ManagerClient } from '../../src/adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../src/api/manager.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import type { SandboxDescription } from '../../src/sandbox/description.ts';
import { SeededRandom } from '../../src/sandbox/seed/random.ts';
import { objectRecord } from '../../src/sandbox/seed/record.ts';
import { Seeder, type SeedObject } from '../../src/sandbox/seed/seeder.ts';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { cpuSeconds, machineCpuSeconds, postgresCpuSeconds, rssMb } from '../support/proc.ts';
import { THROUGHPUT_TUNING } from '../support/tuning.ts';

const execFileAsync = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '100000' },
    'rss-objects': { type: 'string' },
    /** Makos keep connections open (a real mako with MAKO_HTTP_KEEPALIVE_TIMEOUT set). */
    'mako-keep-alive': { type: 'boolean', default: false },
    'min-size': { type: 'string', default: String(4 * 1024) },
    'max-size': { type: 'string', default: String(64 * 1024) },
    /**
     * JSON merged over the manager's config.json (top-level keys). Default: the throughput
     * tuning of docs/operations.md, as in bench/manager-ceiling; '{}' runs L's defaults.
     */
    'manager-config': {
      type: 'string',
      default: JSON.stringify(THROUGHPUT_TUNING),
    },
  },
});
const OBJECTS = Number(args.objects);
const RSS_OBJECTS = args['rss-objects'] === undefined ? undefined : Number(args['rss-objects']);
const MIN_SIZE = Number(args['min-size']);
const MAX_SIZE = Number(args['max-size']);
const MANAGER_CONFIG = JSON.parse(args['manager-config']) as Record<string, unknown>;
const PG_URL = process.env.REBALANCER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RATE_TARGET = 500;
const YARDSTICK_RATIO_TARGET = 0.3;
const RSS_TARGET_MB = 300;
const SEED_CHUNK = 512;
const OWNERS = 64;

interface RunFigures {
  objects: number;
  seedSeconds: number;
  jobSeconds: number;
  objectsPerSecond: number;
  managerPeakRssMb: number;
  /** The manager's resident set when the job starts: modules loaded, idle. */
  managerIdleRssMb: number;
  /** The most V8 heap the manager had in use at a sample (every 10 s): its live data and garbage. */
  managerPeakHeapUsedMb: number;
  /** Seconds from job creation until every object had left the state (or been counted). */
  stages: Record<string, number>;
  /** Object-seconds spent in each state: where the objects waited. */
  waiting: Record<string, number>;
  /** CPU seconds spent during the job, by service kind, and the machine's. */
  cpu: Record<string, number>;
  final: JobStatus['results'];
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** Every object on shark 1 plus one other shark, spread evenly, files then records. */
async function seed(sandbox: SandboxDescription, count: number): Promise<number> {
  const started = performance.now();
  const clients = sandbox.shards.map(
    (s) => new MorayClient({ host: s.host, port: s.port, connections: 4 }),
  );
  try {
    const seeder = new Seeder(
      clients.map((client, i) => ({
        name: sandbox.shards[i]?.name ?? String(i),
        batch: (requests) => client.batch(requests),
      })),
      sandbox.sharks,
    );
    const random = new SeededRandom(1);
    const [evacuated, ...others] = sandbox.sharks;
    if (!evacuated) throw new Error('no sharks');
    const owners = Array.from({ length: OWNERS }, () => random.uuid());
    const now = Date.now();
    let chunk: SeedObject[] = [];
    for (let i = 0; i < count; i++) {
      const owner = owners[i % owners.length] as string;
      const content = randomBytes(random.logUniform(MIN_SIZE, MAX_SIZE));
      const other = others[i % others.length] as (typeof others)[number];
      chunk.push({
        content,
        record: objectRecord({
          owner,
          dirname: `/${owner}/stor/bench`,
          name: `o${i}`,
          objectId: randomUUID(),
          contentLength: content.length,
          contentMD5: md5Base64(content),
          sharks: [evacuated, other].map((s) => ({
            datacenter: s.datacenter,
            manta_storage_id: s.manta_storage_id,
          })),
          mtime: now,
        }),
      });
      if (chunk.length === SEED_CHUNK) {
        await seeder.store(chunk);
        chunk = [];
        if ((i + 1) % 20_000 < SEED_CHUNK) log(`seeded ${i + 1} objects`);
      }
    }
    if (chunk.length > 0) await seeder.store(chunk);
    await seeder.flush();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return (performance.now() - started) / 1000;
}

const STATES = ['Unprocessed', 'Assigned', 'Post Processing'] as const;

/** The manager's V8 heap in use now, MiB, from its process metrics. */
async function heapUsedMb(managerUrl: string): Promise<number> {
  const text = await (await fetch(`${managerUrl}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!match) throw new Error('the manager reports no nodejs_heap_size_used_bytes');
  return Number(match[1]) / 1024 / 1024;
}

/** A service's kind by the first word of its name; the Moray stand-ins go by their host name. */
const SERVICE_KINDS: Record<string, string> = {
  manager: 'manager',
  agent: 'agents',
  mako: 'makos',
  storinfo: 'storinfo',
};

/** CPU seconds so far of the sandbox's services by kind (Moray stand-ins under their names). */
function cpuByService(sandbox: SandboxDescription): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const proc of sandbox.processes) {
    const first = proc.name.split(' ')[0] ?? '';
    const kind = SERVICE_KINDS[first] ?? 'morays';
    byKind[kind] = (byKind[kind] ?? 0) + cpuSeconds(proc.pid);
  }
  const own = process.cpuUsage();
  const machine = machineCpuSeconds();
  return {
    ...byKind,
    postgres: postgresCpuSeconds(),
    bench: (own.user + own.system) / 1e6,
    machine: machine.busy,
    steal: machine.steal,
  };
}

async function runOnce(count: number): Promise<RunFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-evacuate-'));
  let sandbox: SandboxDescription | undefined;
  try {
    log(`starting a sandbox in ${dir}`);
    sandbox = await startSandbox({
      dir,
      layout: {
        domain: 'bench.test',
        shards: 2,
        sharks: 6,
        datacenters: 2,
        sharkCapacityBytes: 512 * 1024 ** 3,
        makoKeepAlive: args['mako-keep-alive'],
      },
      databaseUrl: PG_URL,
      managerOptions: MANAGER_CONFIG,
    });
    log(`seeding ${count} objects`);
    const seedSeconds = await seed(sandbox, count);
    log(`seeded in ${seedSeconds.toFixed(1)} s`);
    const managerPid = sandbox.processes.find((p) => p.name === 'manager')?.pid;
    if (!managerPid || !sandbox.manager) throw new Error('no manager');
    const manager = new ManagerClient(sandbox.manager.url);
    const evacuated = sandbox.sharks[0]?.manta_storage_id as string;

    const idleRssMb = rssMb(managerPid, 'VmRSS');
    const cpuBefore = cpuByService(sandbox);
    const started = performance.now();
    const id = await manager.createEvacuate(evacuated, undefined);
    const stages: Record<string, number> = {};
    const waiting: Record<string, number> = { Unprocessed: 0, Assigned: 0, 'Post Processing': 0 };
    let last = started;
    let status: JobStatus;
    let lastLog = 0;
    let peakHeapMb = 0;
    for (;;) {
      status = await manager.get(id);
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      const r = status.results;
      for (const s of STATES) waiting[s] = (waiting[s] ?? 0) + r[s] * dt;
      const at = (now - started) / 1000;
      if (stages.discovered === undefined && r.Total >= count) stages.discovered = at;
      if (stages.discovered !== undefined && stages.placed === undefined && r.Unprocessed === 0)
        stages.placed = at;
      if (
        stages.placed !== undefined &&
        stages.copied === undefined &&
        r.Unprocessed + r.Assigned === 0
      )
        stages.copied = at;
      if (now - lastLog > 10_000) {
        lastLog = now;
        const heapMb = await heapUsedMb(sandbox.manager.url);
        peakHeapMb = Math.max(peakHeapMb, heapMb);
        log(
          `${at.toFixed(0)} s: total ${r.Total} unprocessed ${r.Unprocessed} assigned ${r.Assigned} post ${r['Post Processing']} complete ${r.Complete} skipped ${r.Skipped} error ${r.Error}; manager RSS peak ${rssMb(managerPid).toFixed(0)} MiB, heap used ${heapMb.toFixed(0)} MiB`,
        );
      }
      if (FINAL_JOB_STATE_NAMES.includes(status.state)) break;
      await sleep(250);
    }
    const jobSeconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuByService(sandbox);
    const cpu = Object.fromEntries(
      Object.entries(cpuAfter).map(([k, v]) => [k, round(v - (cpuBefore[k] ?? 0))]),
    );
    cpu.available = round(jobSeconds * machineCpuSeconds().cores);
    stages.updated = jobSeconds;
    if (status.state !== 'Complete') throw new Error(`job ended ${JSON.stringify(status)}`);
    const figures: RunFigures = {
      objects: count,
      seedSeconds: round(seedSeconds),
      jobSeconds: round(jobSeconds),
      objectsPerSecond: round(status.results.Complete / jobSeconds),
      managerPeakRssMb: round(rssMb(managerPid)),
      managerIdleRssMb: round(idleRssMb),
      managerPeakHeapUsedMb: round(peakHeapMb),
      stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
      waiting: Object.fromEntries(Object.entries(waiting).map(([k, v]) => [k, round(v)])),
      cpu,
      final: status.results,
    };
    await stopSandbox(dir);
    // rm(1), not fs.rm: a million-object sandbox holds two million files, which fs.rm took
    // four minutes and 3 GiB of memory to delete.
    await execFileAsync('rm', ['-rf', dir]);
    return figures;
  } catch (err) {
    // The services' logs say why: keep them.
    if (sandbox) await stopSandbox(dir);
    log(`the run failed; its sandbox and logs are kept in ${dir}`);
    throw err;
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

function report(figures: RunFigures): void {
  console.log(`evacuate ${figures.objects} objects (seeded in ${figures.seedSeconds} s):`);
  console.log(
    `  job ${figures.jobSeconds} s, ${figures.objectsPerSecond} objects/s end to end, manager peak RSS ${figures.managerPeakRssMb} MiB (${figures.managerIdleRssMb} MiB idle before the job; V8 heap in use at most ${figures.managerPeakHeapUsedMb} MiB)`,
  );
  console.log(
    `  stages (s since job creation): all discovered ${figures.stages.discovered}, all placed ${figures.stages.placed}, all copied by agents ${figures.stages.copied}, metadata done ${figures.stages.updated}`,
  );
  console.log(
    `  object-seconds waiting: unprocessed (discovery/placement) ${figures.waiting.Unprocessed}, assigned (agents) ${figures.waiting.Assigned}, post processing (metadata) ${figures.waiting['Post Processing']}`,
  );
  const { machine, steal, available, ...services } = figures.cpu;
  const spent = Object.entries(services).map(([k, v]) => `${k} ${v}`);
  console.log(
    `  CPU seconds during the job: ${spent.join(', ')}; machine busy ${machine} of ${available} (steal ${steal})`,
  );
  console.log(`  results ${JSON.stringify(figures.final)}`);
}

if (Object.keys(MANAGER_CONFIG).length > 0) {
  console.log(`manager config over the sandbox's: ${JSON.stringify(MANAGER_CONFIG)}`);
}
if (args['mako-keep-alive']) console.log('makos keep connections open (--mako-keep-alive)');
const yardstick = round(await loopbackHttpRate());
console.log(
  `machine yardstick: ${yardstick} loopback HTTP requests/s, a new connection each (see bench/support/calibrate.ts)`,
);
const main = await runOnce(OBJECTS);
report(main);
const runs: Record<string, RunFigures> = { [String(OBJECTS)]: main };
let large: RunFigures | undefined;
if (RSS_OBJECTS !== undefined) {
  large = await runOnce(RSS_OBJECTS);
  report(large);
  runs[String(RSS_OBJECTS)] = large;
}
const targets = [
  {
    name: `objects/s end to end (${OBJECTS} objects)`,
    value: main.objectsPerSecond,
    target: `>= ${RATE_TARGET}`,
    met: main.objectsPerSecond >= RATE_TARGET,
  },
  {
    name: 'objects/s end to end / machine yardstick (loopback HTTP requests/s)',
    value: Math.round((main.objectsPerSecond / yardstick) * 1000) / 1000,
    target: `>= ${YARDSTICK_RATIO_TARGET}`,
    met: main.objectsPerSecond / yardstick >= YARDSTICK_RATIO_TARGET,
  },
  {
    name: `manager peak RSS MiB at ${large ? large.objects : main.objects} objects (10,000,000 asked)`,
    value: (large ?? main).managerPeakRssMb,
    target: `< ${RSS_TARGET_MB}${large ? '' : ' (only measured at the smaller count)'}`,
    met: (large ?? main).managerPeakRssMb < RSS_TARGET_MB && (large?.objects ?? 0) >= 10_000_000,
  },
];
console.log(
  JSON.stringify({
    bench: 'evacuate',
    figures: {
      yardstick_loopback_http_per_s: yardstick,
      mako_keep_alive: args['mako-keep-alive'],
      managerConfig: MANAGER_CONFIG,
      ...runs,
    },
    targets,
  }),
);
