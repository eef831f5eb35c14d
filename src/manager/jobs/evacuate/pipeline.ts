/**
 * One run of an evacuate job (manager.md §4): the stages of stages/ joined by bounded queues —
 * discovery → record → placement and assignment building → agents (post, check) → metadata
 * update, then the job's duplicates. Every state change is written to the store before it is
 * acted on, so a run started over a job that was interrupted resumes it (DESIGN invariant 5).
 * This module only wires the stages, cancels (drain), pauses and paces (issue 15), and
 * supervises: the first stage error fails the run with that cause (CRIT-7, IMP-8), and the
 * others are wound down.
 */
import { setMaxListeners } from 'node:events';
import type { StorageNode } from '../../../api/common.ts';
import type { JobLimits } from '../../../api/limits.ts';
import type { SingleCopies } from '../../../api/manager.ts';
import { BoundedQueue, Gate, Semaphore } from '../../../async/index.ts';
import { type AssignmentRecord, UNLIMITED } from '../../store/index.ts';
import { AgentLanes, type BuiltAssignment } from './agent-lanes.ts';
import { type Blocker, Blockers } from './blockers.ts';
import {
  type EvacuateContext,
  NeverDestinations,
  type PipelineDeps,
  PlaceAgain,
  type PlacedObject,
  StageError,
  WorkInFlight,
} from './context.ts';
import { rewriteDuplicates } from './duplicates.ts';
import { type JobPacing, MetadataBudgets, MetadataPacer, PostPacer } from './limits.ts';
import { RecordUpdater } from './record-update.ts';
import { assign } from './stages/assign.ts';
import { checkOutcomes } from './stages/check.ts';
import { discover } from './stages/discover.ts';
import { updateMetadata } from './stages/metadata.ts';
import { leftovers, post } from './stages/post.ts';
import { record } from './stages/record.ts';
import type {
  EvacuateSettings,
  LiveRecord,
  RecordBatch,
  RecordRef,
  UnusableRecord,
} from './types.ts';

/** Listeners the job's signal may have at once before node warns of a leak. */
const MAX_SIGNAL_LISTENERS = 1024;

export interface PipelineOptions {
  /** The job's limits when it starts (unlimited when absent). */
  limits?: JobLimits;
  /** Start paused (the job was paused when the manager stopped). */
  paused?: boolean;
  /** Single copies: copied from the evacuated shark, or skipped (`skip` when absent). */
  singleCopies?: SingleCopies;
  /**
   * False for a convergence pass: nothing is discovered, the pass works on the objects the
   * store holds unprocessed (true when absent).
   */
  discover?: boolean;
}

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
  private limits: JobLimits;
  private readonly discovers: boolean;

  constructor(
    jobId: string,
    fromShark: StorageNode,
    retryOf: string | undefined,
    deps: PipelineDeps,
    settings: EvacuateSettings,
    signal: AbortSignal,
    options: PipelineOptions = {},
  ) {
    const cap = settings.queueCapacity;
    const assignments = Math.max(1, Math.ceil(cap / settings.maxTasksPerAssignment));
    this.recordQ = new BoundedQueue(Math.max(1, Math.ceil(cap / settings.recordBatch)));
    this.placeQ = new BoundedQueue(cap);
    this.postQ = new BoundedQueue(assignments);
    this.metadataQ = new BoundedQueue(settings.metadataQueueDepth ?? assignments);
    this.discovers = options.discover ?? true;
    const evacuated = fromShark.manta_storage_id;
    const jobSignal = this.abort.signal;
    // Every in-flight request and backoff wait listens on the job's signal and stops listening
    // when it ends; their number is bounded by the stages' concurrency (metadata threads up to
    // 250, posts and checks per agent), well above node's default warning level of 10.
    setMaxListeners(MAX_SIGNAL_LISTENERS, jobSignal);
    this.limits = { ...(options.limits ?? UNLIMITED) };
    const pacing = {
      gate: new Gate(!options.paused),
      posts: new PostPacer(this.limits),
      metadata: new MetadataPacer(
        deps.metadataBudgets ?? new MetadataBudgets(null),
        this.limits.metadata_updates_per_second,
      ),
    };
    const blockers = new Blockers();
    const base: Omit<EvacuateContext, 'lanes'> = {
      jobId,
      fromShark,
      evacuated,
      singleCopies: options.singleCopies ?? 'skip',
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
        pacer: pacing.metadata,
        blockers,
      }),
      mdLimit: new Semaphore(settings.metadataThreads),
      placeAgain: new PlaceAgain(settings.maxPlacementsPerObject, () => this.draining),
      never: new NeverDestinations(evacuated, deps.evacuating),
      inFlight: new WorkInFlight(),
      stats: { bytesMoved: 0 },
      pacing,
      blockers,
    };
    const lanes = new AgentLanes({
      agents: deps.agents,
      outcomes: checkOutcomes(base, this.metadataQ),
      settings,
      log: deps.log,
      signal: jobSignal,
      fail: (stage, err) => this.fail(new StageError(stage, err)),
      control: { gate: pacing.gate, pacer: pacing.posts, cancelled: this.intake.signal },
      blockers,
    });
    this.ctx = { ...base, lanes };
    if (signal.aborted) this.fail(signal.reason);
    else signal.addEventListener('abort', () => this.fail(signal.reason), { once: true });
  }

  get bytesMoved(): number {
    return this.ctx.stats.bytesMoved;
  }

  /** The live record of `ref`, transient failures retried (for convergence's fresh look). */
  readLive(ref: RecordRef): Promise<LiveRecord | UnusableRecord | undefined> {
    return this.ctx.records.readLive(ref);
  }

  setMetadataThreads(n: number): void {
    this.ctx.mdLimit.setLimit(n);
  }

  /** The job's full limits after a change; waits in progress follow them at once. */
  setLimits(limits: JobLimits): void {
    this.limits = { ...limits };
    this.ctx.pacing.posts.setLimits(limits);
    this.ctx.pacing.metadata.setLimit(limits.metadata_updates_per_second);
  }

  /**
   * Nothing new is posted (nor, once the agents' work is done, the duplicates' metadata
   * started); assignments already on agents are checked and their metadata lands.
   */
  pause(): void {
    if (this.ctx.pacing.gate.isOpen) this.ctx.deps.log.info('paused: nothing new is posted');
    this.ctx.pacing.gate.close();
  }

  resume(): void {
    if (!this.ctx.pacing.gate.isOpen) this.ctx.deps.log.info('resumed');
    this.ctx.pacing.gate.open();
  }

  get paused(): boolean {
    return !this.ctx.pacing.gate.isOpen;
  }

  /** What holds the job up now, newest first. */
  blockers(): Blocker[] {
    return this.ctx.blockers.list();
  }

  /** The job's limits and the rates measured beside them. */
  pacing(): JobPacing {
    const { posts, metadata } = this.ctx.pacing;
    return {
      limits: { ...this.limits },
      rates: { ...posts.rates(), metadata_updates_per_second: metadata.perSecond() },
    };
  }

  /**
   * Cancels the job gracefully: discovery stops, nothing new is posted (assignments built and
   * not yet posted are withdrawn, their objects left unprocessed, so a throttled job does not
   * wait out its limits), assignments already on agents are checked and their metadata updates
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
    const { metrics } = this.ctx.deps;
    metrics.trackJobPacing(this.ctx.jobId, () => this.pacing());
    try {
      await this.runStages();
    } finally {
      metrics.untrackJobPacing(this.ctx.jobId);
    }
  }

  private async runStages(): Promise<void> {
    const ctx = this.ctx;
    const fail = (err: unknown) => this.fail(err);
    const resumed = await leftovers(ctx).catch((err: unknown) => {
      this.fail(new StageError('agents', err));
      return undefined;
    });
    this.throwIfFailed();
    if (resumed === undefined) return;
    await Promise.all([
      this.stage(
        'discovery',
        async () => (this.discovers ? discover(ctx, this.recordQ) : undefined),
        this.recordQ,
      ),
      this.stage('recording', () => record(ctx, this.recordQ, this.placeQ), this.placeQ),
      this.stage('assignment building', () => assign(ctx, this.placeQ, this.postQ), this.postQ),
      this.stage('agents', () => post(ctx, resumed, this.postQ, this.metadataQ), this.metadataQ),
      this.stage('metadata update', () => updateMetadata(ctx, this.metadataQ, fail)),
    ]);
    this.throwIfFailed();
    await this.stage('duplicates', async () => {
      await this.unlessPaused();
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

  /** Waits while the job is paused, unless it is cancelled: then its metadata lands. */
  private async unlessPaused(): Promise<void> {
    try {
      await this.ctx.pacing.gate.wait(AbortSignal.any([this.abort.signal, this.intake.signal]));
    } catch (err) {
      this.abort.signal.throwIfAborted();
      if (!this.intake.signal.aborted) throw err;
    }
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
