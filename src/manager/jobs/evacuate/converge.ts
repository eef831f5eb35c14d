/**
 * Convergence (issue 16): when an evacuation's main pass ends, the objects it skipped or failed
 * for reasons a fresh look may cure (a rewrite under us, an agent, a source or a metadata shard
 * that failed for a while, an assignment that timed out) are taken again in rounds. Each round
 * waits a moment, re-reads every such object live (as a retry does: the live record is the
 * object's whole identity), reopens those still on the shark, settles those that are not, takes
 * a user's new version in place of the one it rewrote, and runs a pass of the pipeline over what
 * it reopened. Rounds stop when nothing curable is left, at the job's limit, or at a cancel.
 * A round's report is read back from the rows it touched, so it is exact across restarts.
 */
import type { ConvergenceRound } from '../../../api/convergence.ts';
import { sleep } from '../../../async/index.ts';
import type { Logger } from '../../../log/index.ts';
import type { ConvergeChange, ManagerStore, StoredObject } from '../../store/index.ts';
import { tierOf } from '../../store/index.ts';
import {
  type LiveRecord,
  MetadataRejectedError,
  type RecordRef,
  type UnusableRecord,
} from './types.ts';

/** One pass of the pipeline over the job's unprocessed objects (no discovery). */
export interface ConvergePass {
  readLive(ref: RecordRef): Promise<LiveRecord | UnusableRecord | undefined>;
  run(): Promise<void>;
}

export interface ConvergeDeps {
  jobId: string;
  store: ManagerStore;
  /** The evacuated shark's storage id. */
  evacuated: string;
  rounds: number;
  delayMs: number;
  /** Objects read from the store at a time. */
  page: number;
  /** Live reads in flight at once. */
  concurrency: number;
  pass(): ConvergePass;
  /** True once the job is cancelled: no new round starts. */
  stopped(): boolean;
  /** Aborted by a cancel: the wait before a round ends at once. */
  cancelled: AbortSignal;
  signal: AbortSignal;
  log: Logger;
}

/** Runs the rounds still due (a resumed job goes on with the round it was in). */
export async function converge(deps: ConvergeDeps): Promise<void> {
  const { store, jobId, log } = deps;
  const done = await store.listJobEvents(jobId, 0, deps.rounds + 1, 'convergence_round');
  let round = done.length + 1;
  const inProgress = (await store.lastConvergeRound(jobId)) >= round;
  for (; round <= deps.rounds; round++) {
    if (deps.stopped()) return;
    const curable = await store.countCurable(jobId, round);
    const resuming = inProgress && round === done.length + 1;
    if (curable === 0 && !resuming) {
      log.info({ round }, 'convergence: nothing curable is left');
      return;
    }
    log.info({ round, curable, delay_ms: deps.delayMs }, 'convergence round starts');
    try {
      await sleep(deps.delayMs, AbortSignal.any([deps.signal, deps.cancelled]));
    } catch (err) {
      if (!deps.stopped() || deps.signal.aborted) throw err;
    }
    if (deps.stopped()) return;
    const pass = deps.pass();
    await take(deps, round, pass);
    await pass.run();
    if (deps.stopped()) return;
    const report = await roundReport(store, jobId, round);
    await store.recordJobEvent(jobId, 'convergence_round', { ...report });
    log.info(report, 'convergence round ended');
  }
}

/** Re-reads the round's objects live and writes what each becomes, a page at a time. */
async function take(deps: ConvergeDeps, round: number, pass: ConvergePass): Promise<void> {
  const { store, jobId } = deps;
  // A shard that did not answer (after the read's own retries) is not asked again this round:
  // an outage costs a round one read's retries, not one per object on it.
  const down = new Set<string>();
  let after: string | undefined;
  for (;;) {
    if (deps.stopped()) return;
    const page = await store.curableObjects(jobId, round, after, deps.page);
    if (page.length === 0) return;
    after = page[page.length - 1]?.id;
    const changes: ConvergeChange[] = [];
    for (let i = 0; i < page.length; i += deps.concurrency) {
      const chunk = page.slice(i, i + deps.concurrency);
      const looked = await Promise.all(chunk.map((o) => look(deps, pass, o, down)));
      for (const c of looked) if (c) changes.push(c);
    }
    await store.applyConvergence(jobId, round, changes);
  }
}

/**
 * What a fresh look at `o` makes of it; undefined when its shard did not answer, now or earlier
 * in the round (`down`): the object stays curable for the next round.
 */
async function look(
  deps: ConvergeDeps,
  pass: ConvergePass,
  o: StoredObject,
  down: Set<string>,
): Promise<ConvergeChange | undefined> {
  const where = `${o.tier}:${o.shard}`;
  if (down.has(where)) return undefined;
  let live: LiveRecord | UnusableRecord | undefined;
  try {
    live = await pass.readLive({ tier: o.tier, shard: o.shard, key: o.key, object: o.object });
  } catch (err) {
    deps.signal.throwIfAborted();
    if (!(err instanceof MetadataRejectedError)) down.add(where);
    deps.log.warn({ key: o.key, shard: o.shard, tier: o.tier, err }, 'convergence: read failed');
    return undefined;
  }
  if (live === undefined) {
    return o.tier === 'buckets'
      ? { kind: 'settle', from: o, to: { status: 'error', error: 'mdapi_object_not_found' } }
      : { kind: 'settle', from: o, to: { status: 'skipped', reason: 'metadata_object_not_found' } };
  }
  if ('problem' in live) {
    const to = { status: 'error' as const, error: 'bad_manta_object' as const };
    return { kind: 'settle', from: o, to, detail: live.problem };
  }
  const onShark = live.value.sharks.some((s) => s.manta_storage_id === deps.evacuated);
  if (live.value.objectId !== o.id) {
    const successor = onShark
      ? {
          id: live.value.objectId,
          key: o.key,
          shard: o.shard,
          tier: tierOf(live.value),
          etag: live.etag,
          object: live.value,
        }
      : undefined;
    return { kind: 'rewritten', from: o, successor };
  }
  if (!onShark) {
    return { kind: 'settle', from: o, to: { status: 'skipped', reason: 'object_not_on_shark' } };
  }
  return { kind: 'reopen', from: o, etag: live.etag, object: live.value };
}

async function roundReport(
  store: ManagerStore,
  jobId: string,
  round: number,
): Promise<ConvergenceRound> {
  const became: ConvergenceRound['became'] = { complete: 0, skipped: {}, error: {}, unfinished: 0 };
  let retried = 0;
  let rewritten = 0;
  let newVersions = 0;
  for (const r of await store.roundOutcome(jobId, round)) {
    if (r.successor) newVersions += r.count;
    else retried += r.count;
    if (!r.successor && r.reason === 'object_rewritten') {
      rewritten += r.count;
      continue;
    }
    if (r.status === 'complete') became.complete += r.count;
    else if (r.status === 'skipped') add(became.skipped, r.reason ?? 'unknown', r.count);
    else if (r.status === 'error') add(became.error, r.reason ?? 'unknown', r.count);
    else became.unfinished += r.count;
  }
  return {
    round,
    retried,
    rewritten,
    new_versions: newVersions,
    became,
    finished_at: new Date().toISOString(),
  };
}

function add(counts: Record<string, number>, key: string, n: number): void {
  counts[key] = (counts[key] ?? 0) + n;
}
