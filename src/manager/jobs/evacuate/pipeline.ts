/**
 * One run of an evacuate job (manager.md §4): the stages of stages/ joined by bounded queues —
 * discovery → record → placement and assignment building → agents (post, check) → metadata
 * update, then the job's duplicates. Every state change is written to the store before it is
 * acted on, so a run started over a job that was interrupted resumes it (DESIGN invariant 5).
 * This module only wires the stages, cancels (drain) and supervises: the first stage error
 * fails the run with that cause (CRIT-7, IMP-8), and the others are wound down.
 */
import { setMaxListeners } from 'node:events';
import type { StorageNode } from '../../../api/common.ts';
import { BoundedQueue, Semaphore } from '../../../async/index.ts';
import type { AssignmentRecord } from '../../store/index.ts';
import { AgentLanes, type BuiltAssignment } from './agent-lanes.ts';
import {
  type EvacuateContext,
  type PipelineDeps,
  PlaceAgain,
  type PlacedObject,
  StageError,
  WorkInFlight,
} from './context.ts';
import { rewriteDuplicates } from './duplicates.ts';
import { RecordUpdater } from './record-update.ts';
import { assign } from './stages/assign.ts';
import { checkOutcomes } from './stages/check.ts';
import { discover } from './stages/discover.ts';
import { updateMetadata } from './stages/metadata.ts';
import { leftovers, post } from './stages/post.ts';
import { record } from './stages/record.ts';
import type { EvacuateSettings, RecordBatch } from './types.ts';

/** Listeners the job's signal may have at once before node warns of a leak. */
const MAX_SIGNAL_LISTENERS = 1024;

export class EvacuatePipeline {
  private readonly abort = new AbortController();
  private readonly intake = new AbortController();
  private readonly recordQ: BoundedQueue<RecordBatch>;
  private readonly placeQ: BoundedQueue<PlacedObject>;
  private readonly postQ: BoundedQueue<BuiltAssignment>;
  private readonly metadataQ: BoundedQueue<AssignmentRecord>;
  private readonly ctx: EvacuateContext;
  private failure: { err: unknown } | undefined;
  private draining = false;

  constructor(
    jobId: string,
    fromShark: StorageNode,
    retryOf: string | undefined,
    deps: PipelineDeps,
    settings: EvacuateSettings,
    signal: AbortSignal,
  ) {
    const cap = settings.queueCapacity;
    const assignments = Math.max(1, Math.ceil(cap / settings.maxTasksPerAssignment));
    this.recordQ = new BoundedQueue(Math.max(1, Math.ceil(cap / settings.recordBatch)));
    this.placeQ = new BoundedQueue(cap);
    this.postQ = new BoundedQueue(assignments);
    this.metadataQ = new BoundedQueue(settings.metadataQueueDepth ?? assignments);
    const evacuated = fromShark.manta_storage_id;
    const jobSignal = this.abort.signal;
    // Every in-flight request and backoff wait listens on the job's signal and stops listening
    // when it ends; their number is bounded by the stages' concurrency (metadata threads up to
    // 250, posts and checks per agent), well above node's default warning level of 10.
    setMaxListeners(MAX_SIGNAL_LISTENERS, jobSignal);
    const base: Omit<EvacuateContext, 'lanes'> = {
      jobId,
      fromShark,
      evacuated,
      retryOf,
      deps,
      settings,
      signal: jobSignal,
      intake: this.intake.signal,
      draining: () => this.draining,
      records: new RecordUpdater({
        metadata: deps.metadata,
        settings,
        evacuated,
        log: deps.log,
        signal: jobSignal,
      }),
      mdLimit: new Semaphore(settings.metadataThreads),
      placeAgain: new PlaceAgain(settings.maxPlacementsPerObject, () => this.draining),
      inFlight: new WorkInFlight(),
      stats: { bytesMoved: 0 },
    };
    const lanes = new AgentLanes({
      agents: deps.agents,
      outcomes: checkOutcomes(base, this.metadataQ),
      settings,
      log: deps.log,
      signal: jobSignal,
      fail: (stage, err) => this.fail(new StageError(stage, err)),
    });
    this.ctx = { ...base, lanes };
    if (signal.aborted) this.fail(signal.reason);
    else signal.addEventListener('abort', () => this.fail(signal.reason), { once: true });
  }

  get bytesMoved(): number {
    return this.ctx.stats.bytesMoved;
  }

  setMetadataThreads(n: number): void {
    this.ctx.mdLimit.setLimit(n);
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
    this.ctx.deps.log.info('cancelling: in-flight assignments finish, nothing new starts');
  }

  /** Runs every stage to the end; rejects with the first failure. */
  async run(): Promise<void> {
    const ctx = this.ctx;
    const fail = (err: unknown) => this.fail(err);
    const resumed = await leftovers(ctx).catch((err: unknown) => {
      this.fail(new StageError('agents', err));
      return undefined;
    });
    this.throwIfFailed();
    if (resumed === undefined) return;
    await Promise.all([
      this.stage('discovery', () => discover(ctx, this.recordQ), this.recordQ),
      this.stage('recording', () => record(ctx, this.recordQ, this.placeQ), this.placeQ),
      this.stage('assignment building', () => assign(ctx, this.placeQ, this.postQ), this.postQ),
      this.stage('agents', () => post(ctx, resumed, this.postQ, this.metadataQ), this.metadataQ),
      this.stage('metadata update', () => updateMetadata(ctx, this.metadataQ, fail)),
    ]);
    this.throwIfFailed();
    await this.stage('duplicates', async () => {
      await rewriteDuplicates({
        jobId: ctx.jobId,
        store: ctx.deps.store,
        records: ctx.records,
        concurrency: ctx.settings.metadataThreads,
        log: ctx.deps.log,
      });
    });
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
    this.ctx.lanes.notify();
  }
}
