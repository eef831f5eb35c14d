/**
 * One run of an evacuate job (manager.md §4): async stages joined by bounded queues —
 * discovery → record → placement/assignment building → post to agents → check → metadata
 * update. Every state change is written to the store before it is acted on, so a run started
 * over a job that was interrupted resumes it: unprocessed objects are placed, built
 * assignments posted, posted ones checked, completed ones metadata-updated, and discovery
 * continues from its checkpoints (DESIGN invariant 5). The first stage error fails the run
 * with that cause (CRIT-7, IMP-8); the others are wound down.
 */

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Task } from '../../../api/common.ts';
import { reasonDbForm } from '../../../api/common.ts';
import type { StorageNodeRef } from '../../../api/manager.ts';
import type { Logger } from '../../../log/index.ts';
import type { ManagerMetrics } from '../../metrics.ts';
import { BoundedQueue } from '../../queue.ts';
import { Semaphore } from '../../semaphore.ts';
import { skipReasonLabel } from '../../store/enums.ts';
import type {
  AssignmentRecord,
  ManagerStore,
  ObjectTarget,
  SkipReasonDb,
  StoredObject,
  TransitionGroup,
} from '../../store/index.ts';
import { AgentLanes, type BuiltAssignment, type LaneOutcomes } from './agent-lanes.ts';
import { rewriteDuplicates } from './duplicates.ts';
import { BadObjectError, buildTask, objectFacts, rewriteSharks, sourceCopy } from './object.ts';
import { RecordUpdater, type UpdateResult } from './record-update.ts';
import { retryBatches } from './retry.ts';
import type {
  AgentClient,
  DestinationChooser,
  EvacuateSettings,
  LiveRecord,
  MetadataUpdate,
  MetadataWriter,
  ObjectSource,
  PlacementAvoid,
  RecordBatch,
} from './types.ts';

export interface PipelineDeps {
  store: ManagerStore;
  source: ObjectSource;
  chooser: DestinationChooser;
  agents: AgentClient;
  metadata: MetadataWriter;
  metrics: ManagerMetrics;
  log: Logger;
  /** Sharks being evacuated by any job: never destinations (DESIGN invariant 8). */
  evacuating?: () => Iterable<string>;
}

interface PlacedObject {
  id: string;
  object: Record<string, unknown>;
}

interface OpenAssignment {
  dest: StorageNodeRef;
  tasks: Map<string, Task>;
  bytes: number;
  openedAt: number;
}

const RECORD_BATCH = 500;
const DB_PAGE = 1000;

/** A stage failed; the message names it. */
export class StageError extends Error {
  override readonly name = 'StageError';
  constructor(stage: string, cause: unknown) {
    super(`${stage} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Listeners the job's signal may have at once before node warns of a leak. */
const MAX_SIGNAL_LISTENERS = 1024;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class EvacuatePipeline {
  private readonly abort = new AbortController();
  private readonly recordQ: BoundedQueue<RecordBatch>;
  private readonly placeQ: BoundedQueue<PlacedObject>;
  private readonly postQ: BoundedQueue<BuiltAssignment>;
  private readonly metadataQ: BoundedQueue<AssignmentRecord>;
  private failure: { err: unknown } | undefined;
  private readonly evacuated: string;
  private readonly mdLimit: Semaphore;
  private readonly lanes: AgentLanes;
  private readonly records: RecordUpdater;
  /** Objects given back by an agent that gave up, to be placed again (bounded by in-flight). */
  private readonly unplaced: PlacedObject[] = [];
  /** Times each object placed again has been placed in this run. */
  private readonly placements = new Map<string, number>();
  /** Built assignments on their way from placement to their lane. */
  private inTransit = 0;
  /** Assignments the agents finished whose metadata update has not ended. */
  private metadataPending = 0;
  private stallLoggedAt = 0;
  /** Cancelled: no new objects or assignments; what agents already have finishes and lands. */
  private draining = false;
  private readonly intake = new AbortController();
  private received = 0;
  bytesMoved = 0;

  constructor(
    private readonly jobId: string,
    private readonly fromShark: StorageNodeRef,
    private readonly retryOf: string | undefined,
    private readonly deps: PipelineDeps,
    private readonly settings: EvacuateSettings,
    signal: AbortSignal,
  ) {
    this.evacuated = fromShark.manta_storage_id;
    const cap = settings.queueCapacity;
    this.recordQ = new BoundedQueue(Math.max(1, Math.ceil(cap / RECORD_BATCH)));
    this.placeQ = new BoundedQueue(cap);
    this.postQ = new BoundedQueue(Math.max(1, Math.ceil(cap / settings.maxTasksPerAssignment)));
    this.metadataQ = new BoundedQueue(
      settings.metadataQueueDepth ?? Math.max(1, Math.ceil(cap / settings.maxTasksPerAssignment)),
    );
    this.mdLimit = new Semaphore(settings.metadataThreads);
    this.records = new RecordUpdater({
      metadata: deps.metadata,
      settings,
      evacuated: this.evacuated,
      log: deps.log,
      signal: this.abort.signal,
    });
    this.lanes = new AgentLanes({
      agents: deps.agents,
      outcomes: this.laneOutcomes(),
      settings,
      log: deps.log,
      signal: this.abort.signal,
      fail: (stage, err) => this.fail(new StageError(stage, err)),
    });
    // Every in-flight request and backoff wait listens on the job's signal and stops listening
    // when it ends; their number is bounded by the stages' concurrency (metadata threads up to
    // 250, posts and checks per agent), well above node's default warning level of 10.
    setMaxListeners(MAX_SIGNAL_LISTENERS, this.abort.signal);
    if (signal.aborted) this.fail(signal.reason);
    else signal.addEventListener('abort', () => this.fail(signal.reason), { once: true });
  }

  setMetadataThreads(n: number): void {
    this.mdLimit.setLimit(n);
  }

  /**
   * Cancels the job gracefully: discovery stops, objects not yet in an assignment stay
   * unprocessed, assignments already built are posted and checked, and their metadata updates
   * land; then run() resolves.
   */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.intake.abort(new Error('the job was cancelled'));
    this.deps.log.info('cancelling: in-flight assignments finish, nothing new starts');
  }

  /** Runs every stage to the end; rejects with the first failure. */
  async run(): Promise<void> {
    const { store } = this.deps;
    const counts = await store.counts(this.jobId);
    this.received = counts
      .filter((c) => c.bucket === 'status' || c.bucket === 'duplicates')
      .reduce((s, c) => s + c.count, 0);
    await Promise.all([
      this.stage('discovery', () => this.discover(), this.recordQ),
      this.stage('recording', () => this.record(), this.placeQ),
      this.stage('assignment building', () => this.assign(), this.postQ),
      this.stage('agents', () => this.runAgents(), this.metadataQ),
      this.stage('metadata update', () => this.updateMetadata()),
    ]);
    this.throwIfFailed();
    await this.stage('duplicates', () =>
      rewriteDuplicates({
        jobId: this.jobId,
        store,
        records: this.records,
        concurrency: this.settings.metadataThreads,
        log: this.deps.log,
      }).then(() => undefined),
    );
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  private async stage(
    name: string,
    fn: () => Promise<void>,
    out?: { close(): void },
  ): Promise<void> {
    try {
      await fn();
      out?.close();
    } catch (err) {
      this.fail(this.abort.signal.aborted ? this.abort.signal.reason : new StageError(name, err));
    }
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = { err };
    this.abort.abort(err);
    for (const q of [this.recordQ, this.placeQ, this.postQ, this.metadataQ]) q.fail(err);
    this.lanes.notify();
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private limitReached(): boolean {
    const max = this.settings.maxObjects;
    return max !== null && this.received >= max;
  }

  // --- discovery -------------------------------------------------------------------------

  private async discover(): Promise<void> {
    if (this.retryOf !== undefined) return this.discoverRetry(this.retryOf);
    const checkpoints = await this.deps.store.loadCheckpoints(this.jobId);
    let batch = this.emptyBatch();
    const flush = async () => {
      if (
        batch.objects.length + batch.skipped.length + batch.malformed.length > 0 ||
        batch.checkpoint
      ) {
        await this.recordQ.push(batch);
      }
      batch = this.emptyBatch();
    };
    const events = this.deps.source.scan({
      shark: this.fromShark,
      resume: checkpoints,
      signal: AbortSignal.any([this.signal, this.intake.signal]),
    });
    try {
      for await (const event of events) {
        if (this.draining) return;
        if (event.kind === 'checkpoint') {
          batch.checkpoint = event.checkpoint;
          await flush();
          continue;
        }
        if (event.kind === 'object') {
          if (this.limitReached()) break; // max_objects (§4.17): stop discovering
          this.received++;
          batch.objects.push(event.object);
        } else if (event.kind === 'excluded') {
          batch.skipped.push({ object: event.object, reason: 'excluded_key_prefix' });
        } else batch.malformed.push(event);
        if (batch.objects.length + batch.skipped.length >= RECORD_BATCH) await flush();
      }
    } catch (err) {
      // A cancel ends the scan with an abort: the objects found so far are the job's.
      if (this.draining && !this.signal.aborted) return;
      throw err;
    }
    await flush();
  }

  /** A retry job's objects: what the previous job left unfinished, re-read live (§4.13). */
  private async discoverRetry(previous: string): Promise<void> {
    const batches = retryBatches({
      page: (status, after) =>
        this.deps.store.objectsByStatus(previous, status, after, RECORD_BATCH),
      readLive: (shard, key) => this.readLive(shard, key),
      excluded: (key) => this.deps.source.excludes(key),
      evacuated: this.evacuated,
      stopped: () => this.draining,
    });
    for await (const batch of batches) await this.recordQ.push(batch);
  }

  private emptyBatch(): RecordBatch {
    return { objects: [], skipped: [], malformed: [], checkpoint: undefined };
  }

  // --- recording -------------------------------------------------------------------------

  private async record(): Promise<void> {
    const { store, log } = this.deps;
    // Resume: objects recorded by an earlier run but never placed.
    let after: string | undefined;
    for (;;) {
      const page = await store.objectsByStatus(this.jobId, 'unprocessed', after, DB_PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      for (const o of page) await this.placeQ.push({ id: o.id, object: o.object });
    }
    for await (const batch of this.recordQ) {
      const skipped = batch.skipped.map((s) => s.object);
      const all = [...batch.objects, ...skipped];
      const result = await store.recordDiscovered(this.jobId, all, batch.checkpoint);
      const recorded = new Set(result.recorded.map((o) => o.id));
      const byReason = new Map<SkipReasonDb, string[]>();
      for (const { object, reason } of batch.skipped) {
        if (!recorded.has(object.id)) continue;
        byReason.set(reason, [...(byReason.get(reason) ?? []), object.id]);
      }
      if (byReason.size > 0) {
        await store.transition(
          this.jobId,
          [...byReason].map(([reason, ids]) => ({
            select: { ids },
            from: 'unprocessed' as const,
            to: { status: 'skipped' as const, reason },
          })),
        );
        for (const [reason, ids] of byReason) this.deps.metrics.objectSkips(reason, ids.length);
      }
      const skippedIds = new Set(skipped.map((o) => o.id));
      for (const m of batch.malformed) {
        const id = `malformed:${m.shard}:${m.key}`;
        const object = { id, key: m.key, shard: m.shard, etag: '', object: {} };
        await store.recordFailed(this.jobId, object, 'bad_manta_object', m.problem);
        log.warn({ shard: m.shard, key: m.key, problem: m.problem }, 'malformed record');
      }
      for (const o of result.recorded) {
        if (!skippedIds.has(o.id)) await this.placeQ.push({ id: o.id, object: o.object });
      }
    }
  }

  // --- placement and assignment building -------------------------------------------------

  private async assign(): Promise<void> {
    const { store, chooser } = this.deps;
    const open = new Map<string, OpenAssignment>();
    const skips = new Map<string, string[]>();
    const errors: { id: string; error: BadObjectError }[] = [];
    const maxAgeMs = this.settings.maxAssignmentAgeSec * 1000;

    const flushSkips = async () => {
      const groups: TransitionGroup[] = [...skips.entries()].map(([reason, ids]) => ({
        select: { ids },
        from: 'unprocessed',
        to: { status: 'skipped', reason: reason as SkipReasonDb },
      }));
      for (const e of errors) {
        groups.push({
          select: { ids: [e.id] },
          from: 'unprocessed',
          to: { status: 'error', error: e.error.error, detail: e.error.message },
        });
      }
      if (groups.length === 0) return;
      await store.transition(this.jobId, groups);
      for (const [reason, ids] of skips) this.deps.metrics.objectSkips(reason, ids.length);
      for (const e of errors) this.deps.metrics.objectErrors(e.error.error, 1);
      skips.clear();
      errors.length = 0;
    };
    const flush = async (sharkId: string) => {
      const a = open.get(sharkId);
      if (!a) return;
      open.delete(sharkId);
      const created = await store.createAssignment(this.jobId, {
        id: randomUUID(),
        destShark: a.dest.manta_storage_id,
        destDatacenter: a.dest.datacenter,
        totalBytes: a.bytes,
        objectIds: [...a.tasks.keys()],
      });
      if (!created) {
        chooser.release([...a.tasks.keys()]);
        return;
      }
      const kept = new Set(created.objectIds);
      chooser.release([...a.tasks.keys()].filter((id) => !kept.has(id)));
      this.inTransit++;
      await this.postQ.push({
        record: created.assignment,
        dest: a.dest,
        tasks: [...a.tasks.values()].filter((t) => kept.has(t.object_id)),
      });
    };
    const flushOld = async () => {
      const now = Date.now();
      for (const [id, a] of [...open]) if (now - a.openedAt >= maxAgeMs) await flush(id);
    };

    /** Objects only avoided agents could take now: placed again once one is ready. */
    const deferred: PlacedObject[] = [];
    let deferredAt = 0;
    const place = async (next: PlacedObject): Promise<void> => {
      const { id, object } = next;
      let facts: ReturnType<typeof objectFacts>;
      try {
        facts = objectFacts(object);
      } catch (err) {
        if (!(err instanceof BadObjectError)) throw err;
        errors.push({ id, error: err });
        return;
      }
      const source = sourceCopy(facts, this.evacuated);
      if (!source) {
        skips.set('source_is_evac_shark', [...(skips.get('source_is_evac_shark') ?? []), id]);
        return;
      }
      const request = { id, sharks: facts.sharks, sizeBytes: facts.sizeBytes };
      let placement = chooser.choose(request, this.avoid());
      let waitedSince: number | undefined;
      while (placement.outcome === 'wait' && !this.draining) {
        await flushSkips();
        waitedSince ??= Date.now();
        this.waitingForDestinations(waitedSince);
        await sleep(this.settings.waitForDestinationsMs, this.signal);
        placement = chooser.choose(request, this.avoid());
      }
      if (waitedSince !== undefined)
        this.deps.metrics.waitingForDestinations.remove({ job: this.jobId });
      if (placement.outcome === 'wait') return;
      if (placement.outcome === 'defer') {
        if (deferred.length === 0) deferredAt = Date.now();
        deferred.push(next);
        return;
      }
      if (placement.outcome === 'skip') {
        skips.set(placement.reason, [...(skips.get(placement.reason) ?? []), id]);
        return;
      }
      const dest = placement.shark;
      let a = open.get(dest.manta_storage_id);
      if (!a) {
        a = { dest, tasks: new Map(), bytes: 0, openedAt: Date.now() };
        open.set(dest.manta_storage_id, a);
      }
      a.tasks.set(id, buildTask(id, facts, source));
      a.bytes += facts.sizeBytes;
      if (a.tasks.size >= this.settings.maxTasksPerAssignment) await flush(dest.manta_storage_id);
      if (skips.size + errors.length >= 100) await flushSkips();
    };
    /** Deferred and given-back objects, when an agent may have become ready (or is). */
    const placeWaiting = async (): Promise<void> => {
      if (this.draining) return;
      for (const o of this.unplaced.splice(0)) await place(o);
      if (deferred.length === 0 || Date.now() - deferredAt < this.settings.checkIntervalMs) return;
      const retry = deferred.splice(0);
      for (const o of retry) await place(o);
    };

    let pending: Promise<IteratorResult<PlacedObject>> | undefined;
    let intakeDone = false;
    for (;;) {
      await placeWaiting();
      // Bounded: with as many deferred as a queue holds, take no more until some are placed.
      const full = deferred.length >= this.settings.queueCapacity;
      if (intakeDone || full) {
        const waiting = deferred.length > 0 || this.unplaced.length > 0;
        // Agents may still give objects back: the stage ends when none holds any.
        if (!waiting && !this.draining) for (const id of [...open.keys()]) await flush(id);
        // Metadata updates too: one that finds another job's copy on its destination places
        // the object again.
        const more = waiting || this.lanes.busy || this.inTransit > 0 || this.metadataPending > 0;
        if (!more || (this.draining && !full)) break;
        await flushSkips();
        if (!this.draining) await flushOld();
        await sleep(Math.min(this.settings.checkIntervalMs, 1000), this.signal);
        continue;
      }
      pending ??= this.placeQ.shift();
      const next = await this.raceTimeout(pending, Math.min(maxAgeMs, 1000));
      if (next === 'timeout') {
        await flushSkips();
        if (!this.draining) await flushOld();
        continue;
      }
      pending = undefined;
      if (next.done) {
        intakeDone = true;
        continue;
      }
      // Cancelled: what is still to be placed stays unprocessed (read on, so recording ends).
      if (this.draining) continue;
      await place(next.value);
      await flushOld();
    }
    await flushSkips();
    if (this.draining) {
      // Assignments not yet built are not started: their objects stay unprocessed.
      for (const a of open.values()) chooser.release([...a.tasks.keys()]);
      return;
    }
    for (const id of [...open.keys()]) await flush(id);
  }

  /** Where placement must not put copies now: sharks being evacuated, agents not ready. */
  private avoid(): PlacementAvoid {
    const never = new Set(this.deps.evacuating?.() ?? []);
    never.add(this.evacuated);
    return { never, later: this.lanes.avoid() };
  }

  /** A placement waits for destinations: said at once and each minute, so a stall is heard. */
  private waitingForDestinations(since: number): void {
    this.deps.metrics.waitingForDestinations.set({ job: this.jobId }, 1);
    const now = Date.now();
    if (now - this.stallLoggedAt < 60_000) return;
    this.stallLoggedAt = now;
    this.deps.log.warn(
      { waitedMs: now - since },
      'waiting for destinations: storinfo lists none usable',
    );
  }

  /** The shift's result, or 'timeout' after `ms` (the shift stays pending for the next call). */
  private async raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // --- agents: posting and checking, a lane per agent (agent-lanes.ts) ------------------

  private async runAgents(): Promise<void> {
    const { store } = this.deps;
    // Resume: assignments the agents finished, built but not known to be posted, then posted.
    for (const record of await store.assignmentsInStates(this.jobId, ['agent_complete'])) {
      this.metadataPending++;
      await this.metadataQ.push(record);
    }
    for (const record of await store.assignmentsInStates(this.jobId, ['init'])) {
      this.lanes.enqueue(await this.rebuild(record));
    }
    for (const record of await store.assignmentsInStates(this.jobId, ['assigned'])) {
      this.lanes.adopt(await this.rebuild(record), (record.postedAt ?? record.createdAt).getTime());
    }
    for await (const a of this.postQ) {
      this.inTransit--;
      this.lanes.enqueue(a);
    }
    await this.lanes.idle();
    this.signal.throwIfAborted();
  }

  /** An assignment built by an earlier run, from its stored objects. */
  private async rebuild(record: AssignmentRecord): Promise<BuiltAssignment> {
    const objects = await this.deps.store.objectsOfAssignment(this.jobId, record.id, 'assigned');
    const dest = { manta_storage_id: record.destShark, datacenter: record.destDatacenter };
    const tasks: Task[] = [];
    const sizes: { id: string; sizeBytes: number }[] = [];
    for (const o of objects) {
      const facts = objectFacts(o.object);
      const source = sourceCopy(facts, this.evacuated);
      if (!source) continue;
      tasks.push(buildTask(o.id, facts, source));
      sizes.push({ id: o.id, sizeBytes: facts.sizeBytes });
    }
    this.deps.chooser.restore(dest, sizes);
    return { record, dest, tasks };
  }

  private laneOutcomes(): LaneOutcomes {
    return {
      posted: async (a) => {
        await this.deps.store.setAssignmentState(a.record.id, ['init'], 'assigned');
      },
      finished: (a, failed, postedAt) => this.completeAssignment(a, failed, postedAt),
      refused: (a, reason) =>
        this.skipAssignment(
          a,
          reason,
          reason === 'agent_assignment_timeout' ? 'agent_unavailable' : 'rejected',
        ),
      abandoned: (a, reason) => this.placeAgain(a, reason),
    };
  }

  private async skipAssignment(
    a: BuiltAssignment,
    reason: SkipReasonDb,
    state: 'rejected' | 'agent_unavailable',
  ): Promise<void> {
    const { store, chooser, metrics, log } = this.deps;
    const [ids] = await store.transition(this.jobId, [
      {
        select: { assignmentId: a.record.id },
        from: 'assigned',
        to: { status: 'skipped', reason },
      },
    ]);
    await store.setAssignmentState(a.record.id, ['init', 'assigned'], state);
    chooser.release(a.tasks.map((t) => t.object_id));
    metrics.objectSkips(skipReasonLabel(reason), ids?.length ?? 0);
    log.warn(
      {
        assignment: a.record.id,
        shark: a.dest.manta_storage_id,
        reason,
        objects: ids?.length ?? 0,
      },
      'assignment skipped',
    );
  }

  /**
   * The agent is gone (past the outage tolerance) or lost the assignment: its objects go back
   * to placement, which avoids that agent while it does not answer; an object given up this
   * way `maxPlacementsPerObject` times is skipped with the reason.
   */
  private async placeAgain(a: BuiltAssignment, reason: SkipReasonDb): Promise<void> {
    const { store, chooser, metrics, log } = this.deps;
    const objects = await store.objectsOfAssignment(this.jobId, a.record.id, 'assigned');
    const again: StoredObject[] = [];
    const skip: string[] = [];
    for (const o of objects) {
      if (this.mayPlaceAgain(o.id)) again.push(o);
      else skip.push(o.id);
    }
    await store.transition(this.jobId, [
      { select: { ids: again.map((o) => o.id) }, from: 'assigned', to: { status: 'unprocessed' } },
      { select: { ids: skip }, from: 'assigned', to: { status: 'skipped', reason } },
    ]);
    await store.setAssignmentState(a.record.id, ['init', 'assigned'], 'agent_unavailable');
    chooser.release(a.tasks.map((t) => t.object_id));
    metrics.objectSkips(skipReasonLabel(reason), skip.length);
    for (const o of again) this.unplaced.push({ id: o.id, object: o.object });
    log.warn(
      {
        assignment: a.record.id,
        shark: a.dest.manta_storage_id,
        reason,
        placedAgain: again.length,
        skipped: skip.length,
      },
      'assignment given up: its objects are placed elsewhere',
    );
  }

  /** Counts a placement again of the object; false once it had `maxPlacementsPerObject`. */
  private mayPlaceAgain(id: string): boolean {
    const n = (this.placements.get(id) ?? 1) + 1;
    if (n > this.settings.maxPlacementsPerObject || this.draining) return false;
    this.placements.set(id, n);
    return true;
  }

  /** The agent finished: failed tasks are skipped with its reasons, the rest go to metadata. */
  private async completeAssignment(
    a: BuiltAssignment,
    failed: readonly Task[],
    postedAt: number,
  ): Promise<void> {
    const { store, chooser, metrics } = this.deps;
    const byReason = new Map<string, string[]>();
    const names = new Map(a.tasks.map((t) => [t.object_id, t]));
    for (const task of failed) {
      if (typeof task.status !== 'object') continue;
      let reason = reasonDbForm(task.status.Failed);
      const name = names.get(task.object_id);
      if (
        name?.bucket_id !== undefined &&
        (reason === 'source_object_not_found' || reason.startsWith('{http_status_code')) &&
        (await this.isMpuPart(task.object_id))
      ) {
        reason = 'mpu_part_no_data';
      }
      byReason.set(reason, [...(byReason.get(reason) ?? []), task.object_id]);
    }
    const groups: TransitionGroup[] = [...byReason].map(([reason, ids]) => ({
      select: { ids },
      from: 'assigned',
      to: { status: 'skipped', reason: reason as SkipReasonDb } as ObjectTarget,
    }));
    groups.push({
      select: { assignmentId: a.record.id },
      from: 'assigned',
      to: { status: 'post_processing' },
    });
    await store.transition(this.jobId, groups);
    for (const [reason, ids] of byReason) {
      metrics.objectSkips(reason.startsWith('{') ? 'http_status_code' : reason, ids.length);
    }
    await store.setAssignmentState(a.record.id, ['assigned'], 'agent_complete');
    metrics.assignmentTime.observe((Date.now() - postedAt) / 1000);
    // The copies that landed keep counting against the destination until storinfo shows them.
    const failedIds = new Set(failed.map((t) => t.object_id));
    chooser.release([...failedIds]);
    chooser.commit(a.tasks.map((t) => t.object_id).filter((id) => !failedIds.has(id)));
    this.metadataPending++;
    await this.metadataQ.push({ ...a.record, state: 'agent_complete' });
  }

  private async isMpuPart(objectId: string): Promise<boolean> {
    const o = await this.deps.store.getObject(this.jobId, objectId);
    const name = o?.object.name;
    return typeof name === 'string' && name.startsWith('.mpu-parts/');
  }

  // --- metadata update -------------------------------------------------------------------

  private async updateMetadata(): Promise<void> {
    const running: Promise<void>[] = [];
    for await (const record of this.metadataQ) {
      running.push(
        this.updateAssignment(record)
          .catch((err: unknown) => this.fail(new StageError('metadata update', err)))
          .finally(() => this.metadataPending--),
      );
      if (running.length >= 64) await Promise.all(running.splice(0));
    }
    await Promise.all(running);
  }

  private async updateAssignment(record: AssignmentRecord): Promise<void> {
    const { store, metrics } = this.deps;
    const dest = { manta_storage_id: record.destShark, datacenter: record.destDatacenter };
    const objects = await store.objectsOfAssignment(this.jobId, record.id, 'post_processing');
    const batched = this.settings.batchedUpdates
      ? await this.updateBatched(objects, dest)
      : new Map<string, ObjectTarget>();
    const results = await Promise.all(
      objects.map(
        (o) =>
          batched.get(o.id) ??
          this.mdLimit.run(async () => {
            metrics.mdThreads.inc();
            try {
              return await this.updateOne(o, dest);
            } finally {
              metrics.mdThreads.dec();
            }
          }),
      ),
    );
    const groups = new Map<string, { target: ObjectTarget; ids: string[] }>();
    const again: { id: string; etag: string; object: Record<string, unknown> }[] = [];
    let bytes = 0;
    results.forEach((target, i) => {
      const o = objects[i]!;
      if (target.status === 'place_again') {
        again.push({ id: o.id, etag: target.live.etag, object: target.live.value });
        return;
      }
      const key = JSON.stringify(target);
      const g = groups.get(key) ?? { target, ids: [] };
      g.ids.push(o.id);
      groups.set(key, g);
      if (target.status === 'complete') bytes += Number(o.object.contentLength ?? 0);
    });
    await store.transition(
      this.jobId,
      [...groups.values()].map((g) => ({
        select: { ids: g.ids },
        from: 'post_processing',
        to: g.target,
      })),
    );
    for (const g of groups.values()) {
      if (g.target.status === 'complete') metrics.objectsComplete(g.ids.length, bytes);
      else if (g.target.status === 'error') metrics.objectErrors(g.target.error, g.ids.length);
      else if (g.target.status === 'skipped') metrics.objectSkips(g.target.reason, g.ids.length);
    }
    this.bytesMoved += bytes;
    const placed = new Set(await store.placeAgainFromLive(this.jobId, again));
    for (const o of again) if (placed.has(o.id)) this.unplaced.push({ id: o.id, object: o.object });
    await store.setAssignmentState(record.id, ['agent_complete'], 'post_processed');
  }

  /**
   * `use_batched_updates`: one atomic batch per shard for the objects whose record can be
   * rewritten. Returns the objects done that way; the rest (a failed batch included: one user
   * write fails the whole batch) take the one-by-one path, which tells each outcome apart.
   */
  private async updateBatched(
    objects: readonly StoredObject[],
    dest: StorageNodeRef,
  ): Promise<Map<string, ObjectTarget>> {
    const byShard = new Map<number, { id: string; update: MetadataUpdate }[]>();
    for (const o of objects) {
      if (o.shard < 0) continue;
      let value: Record<string, unknown>;
      try {
        value = rewriteSharks(o.object, this.evacuated, dest);
      } catch (err) {
        if (err instanceof BadObjectError) continue;
        throw err;
      }
      const group = byShard.get(o.shard) ?? [];
      group.push({ id: o.id, update: { shard: o.shard, key: o.key, etag: o.etag, value } });
      byShard.set(o.shard, group);
    }
    const done = new Map<string, ObjectTarget>();
    await Promise.all(
      [...byShard].map(([shard, group]) =>
        this.mdLimit.run(async () => {
          try {
            await this.deps.metadata.putBatch(
              shard,
              group.map((g) => g.update),
              this.signal,
            );
            for (const g of group) done.set(g.id, { status: 'complete' });
          } catch (err) {
            this.signal.throwIfAborted();
            this.deps.log.info(
              { err, shard, objects: group.length },
              'batched metadata update failed; updating the objects one by one',
            );
          }
        }),
      ),
    );
    return done;
  }

  private readLive(shard: number, key: string): Promise<LiveRecord | undefined> {
    return this.records.readLive(shard, key);
  }

  /** Rewrites one object's record, etag-conditionally, retrying transient failures. */
  private async updateOne(o: StoredObject, dest: StorageNodeRef): Promise<UpdateResult> {
    if (this.avoid().never.has(dest.manta_storage_id)) {
      // Another job started evacuating the destination since placement: never name it.
      const live = await this.readLive(o.shard, o.key);
      if (!live) return { status: 'skipped', reason: 'metadata_object_not_found' };
      if (this.mayPlaceAgain(o.id)) return { status: 'place_again', live };
      return { status: 'skipped', reason: 'destination_unreachable' };
    }
    return this.records.update(o, dest, () => this.mayPlaceAgain(o.id));
  }
}
