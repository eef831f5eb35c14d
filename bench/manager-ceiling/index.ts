/**
 * Manager-ceiling benchmark (`npm run bench -- manager-ceiling [--objects N]
 * [--manager-config '<json>']`): how many objects/s ONE manager drives when agents cost
 * nothing. The real manager (dist/, started as the sandbox starts it) keeps its store on real
 * PostgreSQL (REBALANCER_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/postgres) and
 * talks to the sandbox's real Moray shard stand-ins (2 shards, also on that PostgreSQL) and
 * storinfo stand-in; its agents are load generators (load-agent.ts, one HTTP server per shark
 * in one child process) that accept every assignment and report it complete at once, copying
 * nothing. Shark 1 holds N object records (no files), each with a second copy on another
 * shark; one evacuate job moves them all. Measured: objects/s (Complete / seconds from job
 * creation to Complete), the manager's CPU per object, PostgreSQL's and the Moray stand-ins'
 * CPU, the manager's peak RSS, and the machine yardstick (bench/support/calibrate.ts) of the
 * same run, and how long GET /jobs/:id took while the job ran. --manager-config sets top-level
 * manager config keys over the bench's; by default the throughput tuning of the operator's
 * guide, '{}' for the defaults.
 * Last line on stdout: {"bench":"manager-ceiling","figures":{...},"targets":[...]}.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { THROUGHPUT_TUNING } from '../support/tuning.ts';
import { CeilingFixture } from './fixture.ts';
import { type JobFigures, measureJob } from './measure.ts';
import { cpuProfileEnv, findProfile, summarizeProfile } from './profile.ts';
import { seedRecords } from './seed-records.ts';

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '100000' },
    sharks: { type: 'string', default: '6' },
    datacenters: { type: 'string', default: '2' },
    /**
     * Default: the throughput tuning of docs/operations.md (assignments of 200 tasks, 32
     * metadata threads, batched metadata updates); '{}' runs L's defaults (50, 10, off).
     */
    'manager-config': {
      type: 'string',
      default: JSON.stringify(THROUGHPUT_TUNING),
    },
    /** A directory: the manager writes a V8 CPU profile there; its summary is printed. */
    'cpu-prof': { type: 'string' },
  },
});
const OBJECTS = Number(args.objects);
const SHARKS = Number(args.sharks);
const DATACENTERS = Number(args.datacenters);
const MANAGER_CONFIG = JSON.parse(args['manager-config']) as Record<string, unknown>;
const PROFILE_DIR = args['cpu-prof'] === undefined ? undefined : resolve(args['cpu-prof']);
const PG_URL = process.env.REBALANCER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RATE_TARGET = 3000;
const CPU_TARGET_US = 150;
const RSS_TARGET_MB = 300;
const STATUS_TARGET_MS = 50;
/** The memory target's scale (issue 18, target 5). */
const SCALE_OBJECTS = 10_000_000;

if (!Number.isInteger(OBJECTS) || OBJECTS < 1)
  throw new Error('--objects must be a positive integer');
if (!Number.isInteger(SHARKS) || SHARKS < 3) throw new Error('--sharks must be at least 3');

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

const round = (n: number) => Math.round(n * 10) / 10;
const rounded = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));

let fixture: CeilingFixture | undefined;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping everything the bench started`);
    void (fixture?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

if (Object.keys(MANAGER_CONFIG).length > 0) {
  console.log(`manager config over the bench's: ${JSON.stringify(MANAGER_CONFIG)}`);
}
const yardstick = round(await loopbackHttpRate());
console.log(
  `machine yardstick: ${yardstick} loopback HTTP requests/s, a new connection each (see bench/support/calibrate.ts)`,
);

let job: JobFigures;
let seedSeconds: number;
if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
try {
  fixture = await CeilingFixture.start({
    managerEnv: PROFILE_DIR ? cpuProfileEnv(PROFILE_DIR) : undefined,
    pgUrl: PG_URL,
    sharks: SHARKS,
    datacenters: DATACENTERS,
    managerConfig: MANAGER_CONFIG,
    log,
  });
  if (!fixture.sandbox) throw new Error('no sandbox');
  log(`seeding ${OBJECTS} object records (no files)`);
  seedSeconds = await seedRecords(fixture.sandbox, OBJECTS, log);
  log(`seeded in ${seedSeconds.toFixed(1)} s`);
  job = await measureJob(fixture, OBJECTS, log);
} catch (err) {
  if (fixture) log(`the manager's last log lines:\n${await fixture.managerLogTail()}`);
  await fixture?.close();
  throw err;
}
await fixture?.close();

const { machine, steal, available, ...services } = job.cpu;
console.log(
  `manager ceiling: evacuate ${OBJECTS} object records (seeded in ${round(seedSeconds)} s) through one manager, load-generator agents (nothing copied):`,
);
console.log(
  `  job ${round(job.jobSeconds)} s: ${round(job.objectsPerSecond)} objects/s (created → Complete); ${round(job.steadyObjectsPerSecond)} objects/s between 10% and 90% complete; first object complete after ${round(job.firstCompleteSeconds)} s`,
);
console.log(
  `  CPU µs per object: manager ${round(job.managerCpuMicrosPerObject)}, PostgreSQL ${round(job.postgresCpuMicrosPerObject)}, Moray stand-ins ${round(job.moraysCpuMicrosPerObject)}`,
);
const pgSplit = rounded(job.postgresByDatabase);
console.log(
  `  PostgreSQL CPU seconds by database: manager store ${pgSplit.managerStore ?? 0}, Moray shards ${pgSplit.morayShards ?? 0}, other (exited backends, other users) ${pgSplit.other ?? 0}`,
);
const store = job.managerStorePerObject;
console.log(
  `  manager store per object: ${store.commits.toFixed(2)} committed transactions (statements outside one included), ${store.rows.toFixed(2)} rows written`,
);
console.log(
  `  CPU seconds during the job: ${Object.entries(rounded(services))
    .map(([k, v]) => `${k} ${v}`)
    .join(
      ', ',
    )}; machine busy ${round(machine ?? 0)} of ${round(available ?? 0)} (steal ${round(steal ?? 0)})`,
);
console.log(
  `  manager peak RSS ${round(job.managerPeakRssMb)} MiB (${round(job.managerIdleRssMb)} MiB idle before the job)`,
);
const lat = job.statusLatencyMs;
console.log(
  `  GET /jobs/:id while the job ran: max ${round(lat.max)} ms (${round(lat.slowestAtSeconds)} s into the job), p99 ${round(lat.p99)} ms, median ${round(lat.p50)} ms (${lat.samples} polls)`,
);
console.log(`  the manager's longest event-loop delay: ${round(job.eventLoopLagMaxMs)} ms`);
const a = job.agents;
console.log(
  `  load agents: ${a.posts} assignments posted (${round(a.tasksPerPost)} tasks each), ${a.gets} polls (${round(a.pollsPerPost)} per assignment), refused ${JSON.stringify(a.refused)}`,
);
console.log(`  results ${JSON.stringify(job.final)}`);
const profile = PROFILE_DIR ? await findProfile(PROFILE_DIR) : undefined;
if (PROFILE_DIR) {
  if (profile) for (const line of await summarizeProfile(profile)) console.log(`  ${line}`);
  else console.log(`  no manager CPU profile was written into ${PROFILE_DIR}`);
}

const managerUs = round(job.managerCpuMicrosPerObject);
const rate = round(job.objectsPerSecond);
const figures = {
  yardstick_loopback_http_per_s: yardstick,
  objects: OBJECTS,
  sharks: SHARKS,
  managerConfig: MANAGER_CONFIG,
  seedSeconds: round(seedSeconds),
  jobSeconds: round(job.jobSeconds),
  objectsPerSecond: rate,
  steadyObjectsPerSecond: round(job.steadyObjectsPerSecond),
  firstCompleteSeconds: round(job.firstCompleteSeconds),
  managerCpuMicrosPerObject: managerUs,
  postgresCpuMicrosPerObject: round(job.postgresCpuMicrosPerObject),
  moraysCpuMicrosPerObject: round(job.moraysCpuMicrosPerObject),
  postgresCpuSecondsByDatabase: pgSplit,
  managerStoreCommitsPerObject: Math.round(store.commits * 100) / 100,
  managerStoreRowsPerObject: Math.round(store.rows * 100) / 100,
  cpuSeconds: rounded(job.cpu),
  managerPeakRssMb: round(job.managerPeakRssMb),
  managerIdleRssMb: round(job.managerIdleRssMb),
  statusLatencyMs: rounded({ ...lat }),
  eventLoopLagMaxMs: round(job.eventLoopLagMaxMs),
  loadAgents: { ...a, tasksPerPost: round(a.tasksPerPost), pollsPerPost: round(a.pollsPerPost) },
  final: job.final,
};
const targets = [
  {
    name: 'objects/s through one manager',
    value: rate,
    target: `>= ${RATE_TARGET}`,
    met: rate >= RATE_TARGET,
  },
  {
    name: 'manager CPU µs per object',
    value: managerUs,
    target: `<= ${CPU_TARGET_US}`,
    met: managerUs <= CPU_TARGET_US,
  },
  // Issue 18's memory target is set at 10,000,000 objects: below that it is reported, not met.
  {
    name: `manager peak RSS MiB at ${OBJECTS} objects (10,000,000 asked)`,
    value: round(job.managerPeakRssMb),
    target: `< ${RSS_TARGET_MB}${OBJECTS < SCALE_OBJECTS ? ' (only measured at the smaller count)' : ''}`,
    met: job.managerPeakRssMb < RSS_TARGET_MB && OBJECTS >= SCALE_OBJECTS,
  },
  {
    name: 'slowest GET /jobs/:id during the job, ms',
    value: round(lat.max),
    target: `< ${STATUS_TARGET_MS}`,
    met: lat.max < STATUS_TARGET_MS,
  },
];
console.log(JSON.stringify({ bench: 'manager-ceiling', figures, targets }));
