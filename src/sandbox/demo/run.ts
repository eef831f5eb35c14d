/**
 * The demo: one command starts a local Manta, fills it, evacuates a storage node through the
 * manager's public API and checks the outcome independently of the manager.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagerClient } from '../../adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../api/manager.ts';
import { RebalancerError } from '../../errors.ts';
import { readSandboxDescription, type SandboxDescription } from '../description.ts';
import { DEFAULT_LAYOUT, storageId } from '../layout.ts';
import { stopProcess } from '../process.ts';
import type { ServiceTiming } from '../startup.ts';
import { startSandbox, stopSandbox } from '../up.ts';
import { snapshotObjects, verifySnapshot } from '../verify.ts';
import {
  bucketsOn,
  checkBuckets,
  checkBucketsOffShark,
  checkBucketsUserWrites,
  type DemoTierJob,
  type DemoTierVerification,
  jobTiers,
  seedDemoBuckets,
  v1Tier,
  v2Tier,
  verifyDemoBuckets,
} from './buckets.ts';
import { checkDemo, countOn, type DemoCheck, onlyOn } from './checks.ts';
import { type DemoObjects, seedDemo } from './objects.ts';
import { clearThrottle, overwriteAsUser, throttleSource, type UserWrite } from './overwrite.ts';
import { type EtaReport, JobProgress, type ProgressSink } from './progress.ts';

export interface DemoOptions {
  /** Where the sandbox lives; a fresh temporary directory (removed after) when absent. */
  dir?: string;
  databaseUrl?: string;
  objects: number;
  /** Buckets (v2) objects seeded besides (MPU uploads on top). */
  bucketsObjects: number;
  seed: number;
  /** Storage id to evacuate; default `1.stor.<domain>`. */
  shark?: string;
  minSize: number;
  maxSize: number;
  keep: boolean;
  /** Human output: progress, summary. */
  out: ProgressSink;
}

export interface DemoPhases {
  startup: number;
  seed: number;
  job: number;
  verify: number;
}

export interface DemoResult {
  job: string;
  shark: string;
  /** Objects in the sandbox (what the verifier checked). */
  objects: number;
  /** Objects the job handled (those that named the shark). */
  job_objects: number;
  complete: number;
  skipped: number;
  errors: number;
  skip_breakdown: Record<string, number>;
  error_breakdown: Record<string, Record<string, number>>;
  /** The job's counts per tier, from its status (`results.tiers`): Moray (v1), buckets (v2). */
  job_tiers: { v1: DemoTierJob; v2: DemoTierJob };
  verified: number;
  lost: number;
  still_on_shark: number;
  /** The independent verifier's findings per tier: Moray (v1) and buckets-mdapi (v2). */
  verification: { v1: DemoTierVerification; v2?: DemoTierVerification };
  /** The audit the job ended with: is the shark safe to remove now? */
  audit: { verdict: 'safe' | 'unsafe' | null; still_named: number; unsafe: number } | undefined;
  passed: boolean;
  checks: DemoCheck[];
  problems: string[];
  seconds: number;
  objects_per_second: number;
  phases: DemoPhases;
  /** The first ETA the bar showed, and how far from the job's real end it was. */
  eta: EtaReport;
  /** Each service's spawn-to-listening time and when it listened, in start-up order. */
  startup_services: ServiceTiming[];
  dir: string;
  manager_url: string;
  /** sandbox.json of the sandbox left running (--keep). */
  sandbox?: string;
}

export class DemoError extends RebalancerError {
  override readonly name = 'DemoError';
  readonly code = 'demo_failed';
}

/** Objects whose only copy is on the evacuated shark, made on purpose. */
const SINGLE_COPY_OBJECTS = 5;
/**
 * The overwritten object would trickle for OVERWRITE_SIZE / OVERWRITE_RATE seconds (48): far
 * longer than discovery takes, however slow the machine. Clearing the throttle once the user
 * has written releases it at once, so the job does not wait for the trickle.
 */
const OVERWRITE_SIZE = 96 * 1024;
const OVERWRITE_RATE = 2 * 1024;
const POLL_MS = 500;
const MAX_PROBLEMS = 20;

/**
 * Owns what the demo started, so that an error, Ctrl-C or SIGTERM leaves nothing behind (the
 * services are detached process groups: they would not get the terminal's signal).
 */
export class DemoRun {
  readonly options: DemoOptions;
  #dir: string | undefined;
  #ownsDir = false;
  #startup: Promise<SandboxDescription> | undefined;
  #cleaned: Promise<void> | undefined;
  /** The run in progress: cleanup waits for it to settle before removing its files. */
  #running: Promise<DemoResult> | undefined;

  constructor(options: DemoOptions) {
    this.options = options;
  }

  get dir(): string | undefined {
    return this.#dir;
  }

  /** True when the directory is the demo's own temporary one (removed by cleanup). */
  get removesDir(): boolean {
    return this.#ownsDir;
  }

  run(): Promise<DemoResult> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<DemoResult> {
    const o = this.options;
    const started = performance.now();
    const say = (line: string) => o.out.write(`${line}\n`);
    const dir = await this.#prepareDir();
    const shark = o.shark ?? storageId(1, DEFAULT_LAYOUT.domain);
    say(`Starting a sandbox Manta in ${dir} (${describeLayout(o.databaseUrl)})`);
    const services: ServiceTiming[] = [];
    this.#startup = startSandbox({
      dir,
      layout: DEFAULT_LAYOUT,
      databaseUrl: o.databaseUrl,
      onServiceStarted: (timing) => services.push(timing),
    });
    const sandbox = await this.#startup;
    const manager = sandbox.manager;
    if (!manager) throw new DemoError('the sandbox has no manager');
    const startupSeconds = seconds(started);
    say(`  ${sandbox.processes.length} services up in ${startupSeconds.toFixed(1)}s`);
    say(`  manager ${manager.url}, logs in ${join(dir, 'logs')}`);

    const seedStarted = performance.now();
    say(`Seeding ${o.objects} objects (1-3 copies, ${o.minSize}-${o.maxSize} bytes) + edge cases`);
    const seeded = await seedDemo(sandbox, {
      objects: o.objects,
      evacuated: shark,
      seed: o.seed,
      minSize: o.minSize,
      maxSize: o.maxSize,
      singleCopyOnEvacuated: SINGLE_COPY_OBJECTS,
      overwriteSize: OVERWRITE_SIZE,
      onProgress: o.out.isTTY
        ? (n) => o.out.write(`\r\x1b[K  ${n}/${o.objects} objects written`)
        : undefined,
    });
    if (o.out.isTTY) o.out.write('\r\x1b[K');
    const buckets = await seedDemoBuckets(sandbox, {
      objects: o.bucketsObjects,
      seed: o.seed,
      minSize: o.minSize,
      maxSize: o.maxSize,
    });
    if (buckets.seeded) {
      say(`  ${buckets.before.size} buckets (v2) rows, MPU uploads included`);
    }
    const before = await snapshotObjects(sandbox);
    const seedSeconds = seconds(seedStarted);
    say(
      `  ${before.size} objects in ${seedSeconds.toFixed(1)}s; ${countOn(before, shark)} of them have a copy on ${shark}, ${seeded.singleCopy.length} their only one; ${seeded.overwrite.key} will be overwritten by a user during the job`,
    );

    const client = new ManagerClient(manager.url);
    const jobStarted = performance.now();
    await throttleSource(sandbox, seeded.overwrite, shark, OVERWRITE_RATE);
    const job = await client.createEvacuate(shark, undefined);
    say(`Evacuating ${shark}: job ${job}`);
    const { status, userWrite, eta } = await this.#watch(client, job, sandbox, seeded, shark, {
      expected: countOn(before, shark) + bucketsOn(buckets.before, shark),
    });
    const jobSeconds = seconds(jobStarted);

    const verifyStarted = performance.now();
    say('Verifying independently (Moray records, files and MD5s on the makos)');
    const now = await snapshotObjects(sandbox);
    const singleCopy = onlyOn(before, shark);
    const allowed = new Set<string>();
    if (userWrite) allowed.add(userWrite.key);
    const verification = await verifySnapshot(sandbox, now, {
      evacuated: shark,
      before,
      skipped: allowed,
    });
    const checks = checkDemo({
      evacuated: shark,
      before,
      bucketsOnEvacuated: bucketsOn(buckets.before, shark),
      status,
      verification,
      singleCopy,
      singleCopyLeft: [...singleCopy].filter((k) => now.get(k)?.sharks.includes(shark)).length,
      userWrite,
      userRecordNow: userWrite ? now.get(userWrite.key) : undefined,
    });
    const v2 = await verifyDemoBuckets(sandbox, buckets, shark);
    if (v2) {
      checks.push(
        checkBuckets(v2),
        checkBucketsOffShark(v2, status.results, shark),
        checkBucketsUserWrites(v2, status.results),
      );
    }
    const verifySeconds = seconds(verifyStarted);
    const r = status.results;
    const result: DemoResult = {
      job,
      shark,
      objects: verification.objects,
      job_objects: r.Total,
      complete: r.Complete,
      skipped: r.Skipped,
      errors: r.Error,
      skip_breakdown: r.skip_breakdown ?? {},
      error_breakdown: r.error_breakdown ?? {},
      job_tiers: jobTiers(r),
      verified: verification.verified,
      lost: verification.lost,
      still_on_shark: stillOn(now, shark),
      verification: {
        v1: v1Tier(verification, stillOn(now, shark)),
        ...(v2 ? { v2: v2Tier(v2) } : {}),
      },
      audit: status.audit && {
        verdict: status.audit.verdict,
        still_named: status.audit.scanned.objects,
        unsafe: status.audit.unsafe.total,
      },
      passed: checks.every((c) => c.ok),
      checks,
      problems: problemsOf([...verification.problems, ...(v2?.problems ?? [])]),
      seconds: 0,
      objects_per_second: jobSeconds > 0 ? round(r.Total / jobSeconds) : 0,
      eta,
      startup_services: services,
      phases: {
        startup: round(startupSeconds),
        seed: round(seedSeconds),
        job: round(jobSeconds),
        verify: round(verifySeconds),
      },
      dir,
      manager_url: manager.url,
    };
    if (o.keep) result.sandbox = join(dir, 'sandbox.json');
    result.seconds = round(seconds(started));
    return result;
  }

  /** Polls the job until it ends, showing progress; makes the user's write once discovered. */
  async #watch(
    client: ManagerClient,
    job: string,
    sandbox: SandboxDescription,
    seeded: DemoObjects,
    shark: string,
    { expected }: { expected: number },
  ): Promise<{ status: JobStatus; userWrite: UserWrite | undefined; eta: EtaReport }> {
    const progress = new JobProgress(this.options.out);
    let userWrite: UserWrite | undefined;
    for (;;) {
      const status = await client.get(job);
      const ended = FINAL_JOB_STATE_NAMES.includes(status.state);
      // Once discovery has recorded every object (and so the etag it will update against).
      if (!userWrite && (status.results.Total >= expected || ended)) {
        userWrite = await overwriteAsUser(sandbox, seeded.overwrite);
        await clearThrottle(sandbox, seeded.overwrite, shark);
      }
      if (ended) {
        progress.finish(status);
        return { status, userWrite, eta: progress.eta };
      }
      progress.update(status);
      await sleep(POLL_MS);
    }
  }

  async #prepareDir(): Promise<string> {
    const given = this.options.dir;
    if (given === undefined) {
      this.#dir = await mkdtemp(join(tmpdir(), 'rebalancer-demo-'));
      this.#ownsDir = true;
      return this.#dir;
    }
    await mkdir(given, { recursive: true });
    const entries = await readdir(given);
    if (entries.length > 0) {
      throw new DemoError(
        `${given} is not empty: the demo needs a fresh directory (or none: it makes a temporary one)`,
      );
    }
    this.#dir = given;
    return given;
  }

  /**
   * Stops the sandbox (waiting for a start-up in progress) and removes the temporary
   * directory. Idempotent: the signal handler and the normal path may both call it.
   */
  cleanup(): Promise<void> {
    this.#cleaned ??= this.#cleanup();
    return this.#cleaned;
  }

  async #cleanup(): Promise<void> {
    const errors: unknown[] = [];
    if (this.#startup) {
      // A failed start-up has already stopped what it started.
      const up = await this.#startup.then(
        () => true,
        () => false,
      );
      if (up && this.#dir) await stopAll(this.#dir).catch((err) => errors.push(err));
    }
    // Interrupted (Ctrl-C), the run fails at its next request now that the services are
    // gone; wait for that, so it writes no more files into the directory being removed.
    // Its error is the interruption's consequence, already reported by the signal handler.
    await this.#running?.then(
      () => undefined,
      () => undefined,
    );
    if (this.#ownsDir && this.#dir) {
      await rm(this.#dir, { recursive: true, force: true }).catch((err) => errors.push(err));
    }
    if (errors.length > 0) {
      throw new DemoError(`cleaning up the demo failed: ${errors.map(String).join('; ')}`, {
        cause: errors[0],
      });
    }
  }
}

/**
 * stopSandbox stops the services one by one; stopping them in two parallel waves first (the
 * rebalancer, then the Manta it works on) saves seconds, then stopSandbox drops the databases.
 */
async function stopAll(dir: string): Promise<void> {
  const { processes } = await readSandboxDescription(dir);
  const rebalancer = (name: string) => name === 'manager' || name.startsWith('agent ');
  for (const wave of [
    processes.filter((p) => rebalancer(p.name)),
    processes.filter((p) => !rebalancer(p.name)),
  ]) {
    await Promise.all(wave.map((p) => stopProcess(p.pid)));
  }
  await stopSandbox(dir);
}

function stillOn(now: Map<string, { sharks: string[] }>, shark: string): number {
  let n = 0;
  for (const object of now.values()) if (object.sharks.includes(shark)) n++;
  return n;
}

function problemsOf(problems: readonly string[]): string[] {
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS) {
    shown.push(`... and ${problems.length - MAX_PROBLEMS} more`);
  }
  return shown;
}

function describeLayout(databaseUrl: string | undefined): string {
  const l = DEFAULT_LAYOUT;
  const db = databaseUrl ? 'PostgreSQL' : 'embedded PGlite';
  return `${l.shards} shards, ${l.sharks} makos in ${l.datacenters} datacenters, ${db}`;
}

const seconds = (since: number): number => (performance.now() - since) / 1000;
const round = (n: number): number => Math.round(n * 100) / 100;
