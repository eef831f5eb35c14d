/**
 * What the stages of one evacuate run share: the job, its collaborators and settings, the
 * signals that end or cancel it, and the few explicit structures that carry work between
 * stages other than their queues (objects to place again, work still in flight).
 */
import type { StorageNode } from '../../../api/common.ts';
import type { SingleCopies } from '../../../api/manager.ts';
import type { Gate, Semaphore } from '../../../async/index.ts';
import { RebalancerError } from '../../../errors.ts';
import type { Logger } from '../../../log/index.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import type { ManagerMetrics } from '../../metrics.ts';
import type { ManagerStore } from '../../store/index.ts';
import type { AgentLanes } from './agent-lanes.ts';
import type { Blockers } from './blockers.ts';
import type { MetadataBudgets, MetadataPacer, PostPacer } from './limits.ts';
import type { RecordUpdater } from './record-update.ts';
import type {
  AgentClient,
  DestinationChooser,
  EvacuateSettings,
  MetadataWriter,
  ObjectSource,
  PlacementAvoid,
} from './types.ts';

export interface PipelineDeps {
  store: ManagerStore;
  source: ObjectSource;
  chooser: DestinationChooser;
  agents: AgentClient;
  metadata: MetadataWriter;
  metrics: ManagerMetrics;
  log: Logger;
  /** Sharks being evacuated by any job now: never destinations (DESIGN invariant 8). */
  evacuating?: () => Iterable<string>;
  /** The manager's per-shard metadata budgets, shared by every job; absent: unlimited. */
  metadataBudgets?: MetadataBudgets;
}

/** The job's pause and limits (issue 15). */
export interface Pacing {
  /** Closed while the job is paused: nothing new is posted. */
  gate: Gate;
  posts: PostPacer;
  metadata: MetadataPacer;
}

/** An object on its way to placement: its id and the record it is placed from. */
export interface PlacedObject {
  id: string;
  /** Undefined when the store holds none usable for it: placement records it as an error. */
  object: MantaObjectValue | undefined;
}

/** A stage failed; the message names it. */
export class StageError extends RebalancerError {
  override readonly name = 'StageError';
  readonly code = 'stage_failed';
  constructor(
    readonly stage: string,
    cause: unknown,
  ) {
    super(`${stage} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Objects to be placed again in this run: given back by an agent that gave up, or whose
 * destination another job took. Bounded by the work in flight; each object a few times only.
 */
export class PlaceAgain {
  private readonly waiting: PlacedObject[] = [];
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly maxPlacements: number,
    private readonly draining: () => boolean,
  ) {}

  /** Counts one more placement of `id`; false once it had the maximum, or the job is cancelled. */
  allow(id: string): boolean {
    const n = (this.counts.get(id) ?? 1) + 1;
    if (n > this.maxPlacements || this.draining()) return false;
    this.counts.set(id, n);
    return true;
  }

  push(object: PlacedObject): void {
    this.waiting.push(object);
  }

  take(): PlacedObject[] {
    return this.waiting.splice(0);
  }

  get size(): number {
    return this.waiting.length;
  }
}

/**
 * Work between placement and the end of its metadata update that may still give objects back
 * to placement: placement ends only when none is left (and no lane holds any).
 */
export class WorkInFlight {
  /** Built assignments on their way from placement to their agent's lane. */
  inTransit = 0;
  /** Assignments the agents finished whose metadata update has not ended. */
  metadataPending = 0;

  get any(): boolean {
    return this.inTransit > 0 || this.metadataPending > 0;
  }
}

export interface EvacuateContext {
  jobId: string;
  fromShark: StorageNode;
  /** The evacuated shark's storage id. */
  evacuated: string;
  /** Objects whose only copy is on the evacuated shark: copied from it, or skipped. */
  singleCopies: SingleCopies;
  retryOf: string | undefined;
  deps: PipelineDeps;
  settings: EvacuateSettings;
  /** Aborted when the run fails or is stopped. */
  signal: AbortSignal;
  /** Aborted when the job is cancelled: no new objects or assignments start. */
  intake: AbortSignal;
  draining(): boolean;
  lanes: AgentLanes;
  records: RecordUpdater;
  /** Metadata updates in flight (L's metadata threads, tunable while the job runs). */
  mdLimit: Semaphore;
  placeAgain: PlaceAgain;
  never: NeverDestinations;
  inFlight: WorkInFlight;
  stats: { bytesMoved: number };
  pacing: Pacing;
  /** What holds the job up now: agents, metadata shards, placement. */
  blockers: Blockers;
}

/**
 * The sharks this run may never name: its own, and every shark any job evacuated at any time
 * during the run. Kept once seen: a job that finished evacuating a shark left it empty, and a
 * copy placed there afterwards would stay on it with nobody left to move it.
 */
export class NeverDestinations {
  private readonly seen: Set<string>;

  constructor(
    evacuated: string,
    private readonly evacuating: () => Iterable<string> = () => [],
  ) {
    this.seen = new Set([evacuated]);
  }

  now(): ReadonlySet<string> {
    for (const s of this.evacuating()) this.seen.add(s);
    return this.seen;
  }
}

/** Where placement must not put copies now: sharks evacuated during the run, agents not ready. */
export function avoidFor(ctx: EvacuateContext): PlacementAvoid {
  return { never: new Set(ctx.never.now()), later: ctx.lanes.avoid() };
}

/** True when `shark` was being evacuated by a job (this one or another) during the run. */
export function isEvacuated(ctx: EvacuateContext, shark: string): boolean {
  return ctx.never.now().has(shark);
}
