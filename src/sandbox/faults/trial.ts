/**
 * One trial of the fault campaign: a fresh sandbox on real PostgreSQL, objects seeded on one
 * shark, an evacuation of it while faults are injected and a user writes, `job retry` while a
 * retry could help, then an independent verification (the shards and the makos' disks, never
 * the manager) and an account of every object left on the shark by what the manager recorded.
 * The sandbox is stopped, its databases dropped and its directory removed whatever happens.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagerClient } from '../../adm/client.ts';
import type { JobResults } from '../../api/manager.ts';
import type { SandboxDescription } from '../description.ts';
import type { SandboxLayout } from '../layout.ts';
import { SeededRandom } from '../seed/random.ts';
import { startSandbox, stopSandbox } from '../up.ts';
import {
  type ClobberedUserWrite,
  type MissingCopy,
  type ObjectSnapshot,
  snapshotObjects,
  type UserWrittenRecord,
  verifySnapshot,
  verifyUserWrites,
} from '../verify.ts';
import { accountLeftovers, type Leftover } from './accounting.ts';
import { SandboxControl } from './control.ts';
import { TmpfsRoot } from './enospc.ts';
import { FaultInjector, type FaultKind, type InjectedFault, planFaults } from './injector.ts';
import { followJob, retryChain, summary } from './jobs.ts';
import { seedPopulation } from './population.ts';
import { type UserWriteKind, UserWriter } from './user-writes.ts';

export interface TrialOptions {
  seed: number;
  /** Objects with a copy on the evacuated shark (a tenth as many bystanders are added). */
  objects: number;
  /** Faults in the plan (injected while the first job runs; fewer if it ends first). */
  faults: number;
  kinds: readonly FaultKind[];
  /** Faults that may be under way at once (default 2). */
  lanes?: number;
  /** User writes attempted while the first job runs. */
  userWrites: number;
  /** `job retry`s at most after the first job. */
  retries: number;
  /** Administrative URL of the PostgreSQL the shards and the manager keep their data in. */
  pgUrl: string;
  /** Mount a small tmpfs as one destination's object root, for the enospc fault. */
  enospc: boolean;
  jobTimeoutMs: number;
  log?: (message: string) => void;
}

export interface TrialResult {
  seed: number;
  objects: number;
  onEvacuated: number;
  faults: InjectedFault[];
  userWrites: Record<UserWriteKind, number>;
  jobs: { id: string; state: string; results: JobResults; error?: string }[];
  /** Keys that existed (and the user did not delete) with no record or no good copy now. */
  lost: string[];
  badCopies: MissingCopy[];
  /** Objects with fewer distinct copies than before (or than the user's write). */
  fewerCopies: number;
  clobbered: ClobberedUserWrite[];
  leftovers: Leftover[];
  problems: string[];
  seconds: number;
}

export const TRIAL_LAYOUT: SandboxLayout = {
  domain: 'faults.test',
  shards: 2,
  sharks: 6,
  datacenters: 2,
  sharkCapacityBytes: 16 * 1024 ** 3,
};
const EVACUATED = 1;
/** Shark 3 (dc1, as the evacuated one): most objects' only legal destinations are there. */
const TMPFS_SHARK = 3;

export async function runTrial(options: TrialOptions): Promise<TrialResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const random = new SeededRandom(options.seed);
  const dir = await mkdtemp(join(tmpdir(), 'faults-trial-'));
  let tmpfs: TmpfsRoot | undefined;
  let sandbox: SandboxDescription | undefined;
  let writer: UserWriter | undefined;
  try {
    if (options.enospc) {
      // Mounted before the sandbox starts: the mako and the agent make their temp dirs on it.
      const root = join(dir, 'sharks', String(TMPFS_SHARK), 'manta');
      await mkdir(root, { recursive: true });
      tmpfs = await TmpfsRoot.mount(root, Math.max(64 << 20, options.objects * (32 << 10)));
    }
    sandbox = await startSandbox({ dir, layout: TRIAL_LAYOUT, databaseUrl: options.pgUrl });
    const control = new SandboxControl(dir, sandbox);
    const evacuated = sandbox.sharks[EVACUATED - 1]?.manta_storage_id as string;
    const population = await seedPopulation(sandbox, evacuated, options.objects, random);
    const before = await snapshotObjects(sandbox);
    log(
      `seed ${options.seed}: ${before.size} objects, ${population.onEvacuated.length} on ${evacuated}`,
    );

    const plan = planFaults(random, {
      count: options.faults,
      kinds: options.kinds,
      shards: TRIAL_LAYOUT.shards,
      sharks: TRIAL_LAYOUT.sharks,
      ...(tmpfs ? { tmpfsShark: TMPFS_SHARK } : {}),
    });
    const injector = new FaultInjector(control, tmpfs, log);
    writer = new UserWriter(sandbox, {
      evacuated,
      random: new SeededRandom(random.int(0, 0xffffffff)),
      contents: population.contents,
    });
    const manager = new ManagerClient(control.description.manager?.url as string);
    const firstId = await manager.createEvacuate(evacuated, undefined);
    log(`job ${firstId} evacuates ${evacuated}`);
    const stopWrites = new AbortController();
    const faulting = injector.run(plan, options.lanes ?? 2);
    const writing = writeDuring(
      writer,
      population.onEvacuated,
      options.userWrites,
      random,
      stopWrites.signal,
    );
    const followed = await followJob(manager, firstId, options.jobTimeoutMs).then(
      (status) => ({ status }),
      (err: unknown) => ({ err }),
    );
    injector.stop();
    stopWrites.abort();
    // Every fault healed and every user write settled before anything is judged.
    const settled = await Promise.allSettled([faulting, writing]);
    if ('err' in followed) throw followed.err;
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const firstStatus = followed.status;
    log(`job ${firstId} ${firstStatus.state}: ${summary(firstStatus)}`);
    const chain = await retryChain(
      manager,
      { id: firstId, status: firstStatus },
      options.retries,
      options.jobTimeoutMs,
      log,
    );

    const now = await snapshotObjects(sandbox);
    const expected = expectedNow(before, writer.expected);
    const still = [...now.values()].filter((o) => o.sharks.includes(evacuated));
    const leftovers = await accountLeftovers(
      sandbox.manager?.database_url as string,
      chain.map((j) => j.id),
      still,
      new Set(writer.expected.keys()),
    );
    const verification = await verifySnapshot(sandbox, now, {
      evacuated,
      before: expected,
      // The account above judges every object left on the shark.
      skipped: new Set(still.map((o) => o.key)),
    });
    const lost = lostKeys(expected, now, verification.missingCopies);
    const clobbered = verifyUserWrites(now, writer.expected);
    return {
      seed: options.seed,
      objects: before.size,
      onEvacuated: population.onEvacuated.length,
      faults: injector.injected,
      userWrites: { ...writer.counts },
      jobs: chain.map((j) => ({
        id: j.id,
        state: j.status.state,
        results: j.status.results,
        ...(j.status.error ? { error: j.status.error } : {}),
      })),
      lost,
      badCopies: verification.missingCopies,
      fewerCopies: verification.reducedCopies,
      clobbered,
      leftovers,
      problems: [
        ...verification.problems,
        ...clobbered.map((c) => `${c.key}: ${c.problem}`),
        ...leftovers
          .filter((l) => l.curable)
          .map((l) => `${l.key}: left on the shark: ${l.reason}`),
      ],
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    try {
      await writer?.close();
      if (sandbox) await stopSandbox(dir);
    } finally {
      await tmpfs?.unmount();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The user's writes while the job runs: one at a time, at random moments, on random keys. */
async function writeDuring(
  writer: UserWriter,
  keys: readonly string[],
  count: number,
  random: SeededRandom,
  stop: AbortSignal,
): Promise<void> {
  const pool = [...keys];
  for (let i = 0; i < count && pool.length > 0 && !stop.aborted; i++) {
    await sleep(random.int(20, 250));
    const index = random.int(0, pool.length - 1);
    const key = pool[index] as string;
    const draw = random.next();
    const kind: UserWriteKind =
      draw < 0.3 ? 'reupload' : draw < 0.6 ? 'overwrite' : draw < 0.85 ? 'chattr' : 'delete';
    await writer.write(key, kind);
    if (kind === 'delete') pool.splice(index, 1);
  }
}

/** `before` as the user's writes changed it: deleted keys gone, written ones as written. */
function expectedNow(
  before: ObjectSnapshot,
  written: ReadonlyMap<string, UserWrittenRecord>,
): ObjectSnapshot {
  const expected: ObjectSnapshot = new Map(before);
  for (const [key, wrote] of written) {
    const was = before.get(key);
    if (wrote.deleted) expected.delete(key);
    else if (was) {
      const { objectId, owner, contentMD5, contentLength, sharks, headers } = wrote;
      expected.set(key, { ...was, objectId, owner, contentMD5, contentLength, sharks, headers });
    }
  }
  return expected;
}

/** Keys expected to exist whose record is gone or names no copy that is intact. */
function lostKeys(
  expected: ObjectSnapshot,
  now: ObjectSnapshot,
  missing: readonly MissingCopy[],
): string[] {
  const bad = new Map<string, number>();
  for (const m of missing) bad.set(m.key, (bad.get(m.key) ?? 0) + 1);
  const lost: string[] = [];
  for (const key of expected.keys()) {
    const object = now.get(key);
    if (!object || new Set(object.sharks).size <= (bad.get(key) ?? 0)) lost.push(key);
  }
  return lost;
}
