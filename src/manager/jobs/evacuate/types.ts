/**
 * The narrow interfaces the evacuate pipeline's stages are written against, so that the real
 * implementations (src/discovery, src/storinfo, src/moray, the agent HTTP client) and test
 * stand-ins plug in alike.
 */
import type { AgentAssignmentState, AssignmentPayload } from '../../../api/agent.ts';
import type { StorageNode } from '../../../api/common.ts';
import { backoff } from '../../../async/index.ts';
import { RebalancerError } from '../../../errors.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import type {
  DiscoveredObject,
  DiscoveryCheckpoint,
  MetadataTier,
  RecordedObject,
  SkipReasonDb,
} from '../../store/index.ts';

/** What discovery yields (mirrors src/discovery's events, checkpoints as opaque cursors). */
export type SourceEvent =
  | { kind: 'object'; object: DiscoveredObject }
  /** Excluded by `exclude_key_prefixes`: recorded and skipped, without its record. */
  | { kind: 'excluded'; object: RecordedObject }
  | { kind: 'malformed'; tier?: MetadataTier; shard: number; key: string; problem: string }
  | { kind: 'checkpoint'; checkpoint: DiscoveryCheckpoint };

/** Finds the objects with a copy on a shark, resuming after the given checkpoints. */
export interface ObjectSource {
  scan(request: {
    shark: StorageNode;
    resume: readonly DiscoveryCheckpoint[];
    signal: AbortSignal;
  }): AsyncIterable<SourceEvent>;
  /** True when `exclude_key_prefixes` keep the key out of jobs (a retry applies it too). */
  excludes(key: string): boolean;
}

/** What discovery (or a retry's re-read) hands the recording stage at once. */
export interface RecordBatch {
  objects: DiscoveredObject[];
  /** Recorded and skipped at once, with their reasons (exclusions, objects gone or moved). */
  skipped: { object: RecordedObject; reason: SkipReasonDb }[];
  malformed: { tier?: MetadataTier; shard: number; key: string; problem: string }[];
  checkpoint: DiscoveryCheckpoint | undefined;
  /**
   * The scan ended on its own with this batch, `objects` found by this run: once it is
   * recorded the job's totals are exact.
   */
  ended?: { objects: number };
}

/** An object's record as its metadata shard holds it now. */
export interface LiveRecord {
  value: MantaObjectValue;
  etag: string;
}

/** A live record that is no object record the job can move (malformed, a directory now). */
export interface UnusableRecord {
  /** What is wrong, naming the field. */
  problem: string;
  etag: string;
}

export type Placement =
  | { outcome: 'placed'; shark: StorageNode }
  | { outcome: 'skip'; reason: SkipReasonDb }
  /** No destination usable right now (e.g. no storinfo snapshot): wait, do not skip (§13.16). */
  | { outcome: 'wait' }
  /** Only destinations to avoid for now would do: place this object again later. */
  | { outcome: 'defer' };

/** Sharks a placement must not use: `never` (being evacuated), `later` (agents not ready). */
export interface PlacementAvoid {
  never: ReadonlySet<string>;
  later: ReadonlySet<string>;
}

/**
 * Chooses a destination for an object and reserves its bytes there under the object's id,
 * until released or committed (every terminal path of its assignment does one, §13.5).
 */
export interface DestinationChooser {
  choose(
    object: { id: string; sharks: readonly StorageNode[]; sizeBytes: number },
    avoid: PlacementAvoid,
  ): Placement;
  /**
   * Reserves again the bytes of objects placed on `dest` before a restart (reservations live
   * in memory): a resumed job's in-flight assignments keep counting against their shark.
   */
  restore(dest: StorageNode, objects: readonly { id: string; sizeBytes: number }[]): void;
  /** The copies did not land: their bytes no longer count against the destination. */
  release(objectIds: readonly string[]): void;
  /**
   * The copies landed: their bytes keep counting until storinfo reports the destination's
   * usage from after the copy (otherwise it looks emptier than it is, issue 12 #6).
   */
  commit(objectIds: readonly string[]): void;
  /** Releases whatever the job still holds: its run ended (done, failed or interrupted). */
  releaseAll(): void;
}

export type PostOutcome =
  | { kind: 'accepted' }
  /** 503: the agent's queue is full; try again later. */
  | { kind: 'busy' }
  | { kind: 'rejected'; status: number; message: string };

export type CheckOutcome =
  | { kind: 'state'; state: AgentAssignmentState }
  /** A 4xx other than 401 (404: the agent does not know the assignment). */
  | { kind: 'missing'; status: number };

/**
 * A request to an agent that did not get a usable answer: connection refused, reset or timed
 * out, a body cut off mid-response, an answer that does not parse, or (GET) a 5xx. Transient.
 */
export class AgentTransportError extends RebalancerError {
  override readonly name = 'AgentTransportError';
  readonly code: string = 'agent_transport';
}

/**
 * The agent refused the manager's credentials (HTTP 401): its `auth_token` and the manager's
 * differ or the manager sent none. A configuration error, not an outage and not "the agent
 * does not know the assignment"; deliberately not an AgentTransportError.
 */
export class AgentUnauthorizedError extends RebalancerError {
  override readonly name = 'AgentUnauthorizedError';
  readonly code = 'agent_unauthorized';
}

/** Talks to the agent on a destination shark (L's wire format, agent.md §2). */
export interface AgentClient {
  post(dest: StorageNode, payload: AssignmentPayload, signal: AbortSignal): Promise<PostOutcome>;
  get(dest: StorageNode, id: string, signal: AbortSignal): Promise<CheckOutcome>;
}

export interface MetadataUpdate {
  /** The metadata shard of the record's tier (Moray and buckets shard numbers overlap). */
  shard: number;
  key: string;
  /** The etag read at discovery: the update applies only if the record is unchanged. */
  etag: string;
  value: MantaObjectValue;
  /**
   * The record `value` was rewritten from. A buckets record's etag is its id, which a metadata
   * update does not change, so its writer compares the live copies with these instead.
   */
  previous: MantaObjectValue;
}

/** Where a record lives: its tier, shard and key, and (v2) the stored record naming its vnode. */
export interface RecordRef {
  tier: MetadataTier;
  shard: number;
  key: string;
  object: MantaObjectValue | undefined;
}

/** The record changed since discovery: a user wrote it (invariant 3: never overwrite). */
export class MetadataEtagMismatchError extends RebalancerError {
  override readonly name = 'MetadataEtagMismatchError';
  readonly code = 'metadata_etag_mismatch';
}
/** The record no longer exists (the user deleted the object). */
export class MetadataObjectNotFoundError extends RebalancerError {
  override readonly name = 'MetadataObjectNotFoundError';
  readonly code = 'metadata_object_not_found';
}
/**
 * The shard refused the request for a reason another attempt will not change (e.g. the vnode
 * is not hosted there): the object's update fails with the cause, never succeeds.
 */
export class MetadataRejectedError extends RebalancerError {
  override readonly name = 'MetadataRejectedError';
  readonly code = 'metadata_rejected';
}

/** What became of an MPU upload record after one of its parts moved. */
export type UploadRecordOutcome =
  /** Both header copies now name the destination. */
  | 'rewritten'
  /** No such record (the upload was committed or aborted): nothing to do. */
  | 'absent'
  /** The record names the evacuated shark nowhere. */
  | 'unchanged'
  /** The placement ring's vnode count is not configured: records cannot be found. */
  | 'disabled';

/**
 * The metadata tier: Moray (v1) and buckets-mdapi (v2) behind one port, routed by the record's
 * tier. Writes are etag-conditional; errors other than the typed ones are transient.
 */
export interface MetadataWriter {
  putObject(update: MetadataUpdate, signal: AbortSignal): Promise<void>;
  /**
   * `updates` (one tier's, one shard's) at once (L's `use_batched_updates`). Resolves with the
   * updates not applied, to be made one by one: none or all for an atomic Moray batch, those
   * of failed vnodes or changed records for buckets-mdapi. Rejects when nothing was applied.
   */
  putBatch(
    shard: number,
    updates: readonly MetadataUpdate[],
    signal: AbortSignal,
  ): Promise<readonly MetadataUpdate[]>;
  /**
   * The live record and its etag (undefined when gone): tells our own earlier write from a
   * user's. Validated: a record the job cannot use comes back as an UnusableRecord.
   */
  getObject(ref: RecordRef, signal: AbortSignal): Promise<LiveRecord | UnusableRecord | undefined>;
  /**
   * Rewrites the pre-allocated sharks of the upload record of the MPU part `part` (just moved
   * from `evacuated` to `dest`). Absent for a tier without multipart uploads.
   */
  updateUploadRecord?(
    part: MantaObjectValue,
    evacuated: string,
    dest: StorageNode,
    signal: AbortSignal,
  ): Promise<UploadRecordOutcome>;
}

/** Tunables of one job: L's options plus the timings tests shorten. */
export interface EvacuateSettings {
  maxTasksPerAssignment: number;
  /** Seconds; a partial assignment older than this is sent; checker timeout is twice it. */
  maxAssignmentAgeSec: number;
  maxObjects: number | null;
  metadataThreads: number;
  /** Delay before trying placement again when no destination is usable. */
  waitForDestinationsMs: number;
  /** 503 answers tolerated per assignment (L: 60) and the wait after the n-th (L: min(5n, 30) s). */
  busyRetries: number;
  busyDelayMs: (attempt: number) => number;
  checkIntervalMs: number;
  /**
   * Assignments an agent may have unfinished at once (L's unused `max_concurrent_assignments`
   * was 10): beyond it posting waits, which bounds the work in flight and the manager's memory.
   */
  maxAssignmentsPerAgent: number;
  /** Built assignments that may wait for an agent beyond those it has: placement avoids it. */
  maxBacklogPerAgent: number;
  /**
   * How long an agent may go without answering (a restart, a network blip) before its
   * assignments are given up and their objects placed elsewhere; its state is durable, so
   * until then it is polled again with backoff (§13.9, issue 12 #4).
   */
  agentOutageToleranceMs: number;
  /** Wait before the n-th retry of a request an agent did not answer. */
  agentRetryDelayMs: (attempt: number) => number;
  /** Requests to agents in flight at once, over all agents (posts; polls apart). */
  agentRequestConcurrency: number;
  /** Times an object is placed again after its destination gave up before it is skipped. */
  maxPlacementsPerObject: number;
  /** Finished assignments whose metadata updates run at once (their objects share the threads). */
  metadataAssignments: number;
  /** Discovered objects recorded in one store transaction (with their shard's checkpoint). */
  recordBatch: number;
  /** Objects read per page when a resumed run or a retry pages through stored objects. */
  storePage: number;
  /** Skips and errors of placement batched into one store transition. */
  outcomeBatch: number;
  /** Conflicts with writers that only moved other copies, re-read and rewritten, per record. */
  maxConflictRewrites: number;
  /**
   * L's `use_batched_updates`: an assignment's records are rewritten with one atomic Moray
   * batch per shard; a batch that fails falls back to one conditional put per object.
   */
  batchedUpdates: boolean;
  /** L's `static_queue_depth` with `use_static_md_update_threads`: assignments queued for the
   * metadata stage; otherwise the queue follows `queueCapacity`. */
  metadataQueueDepth: number | undefined;
  /** Attempts of a metadata update failing with a transient error, and the backoff. */
  metadataAttempts: number;
  metadataBackoffMs: (attempt: number) => number;
  /** Queue capacities between stages. */
  queueCapacity: number;
  /** The wait before each convergence round (a fresh look needs a moment to be fresh). */
  convergeDelayMs: number;
}

export const DEFAULT_SETTINGS: EvacuateSettings = {
  maxTasksPerAssignment: 50,
  maxAssignmentAgeSec: 3600,
  maxObjects: null,
  metadataThreads: 10,
  waitForDestinationsMs: 500,
  busyRetries: 60,
  busyDelayMs: backoff({ initialMs: 5000, factor: 1, stepMs: 5000, maxMs: 30_000 }),
  checkIntervalMs: 500,
  maxAssignmentsPerAgent: 10,
  maxBacklogPerAgent: 10,
  agentOutageToleranceMs: 5 * 60_000,
  agentRetryDelayMs: backoff({ initialMs: 500, factor: 2, maxMs: 10_000 }),
  agentRequestConcurrency: 16,
  maxPlacementsPerObject: 3,
  metadataAssignments: 64,
  recordBatch: 500,
  storePage: 1000,
  outcomeBatch: 100,
  maxConflictRewrites: 5,
  batchedUpdates: false,
  metadataQueueDepth: undefined,
  metadataAttempts: 4,
  metadataBackoffMs: backoff({ initialMs: 100, factor: 2, maxMs: 5000 }),
  queueCapacity: 1000,
  convergeDelayMs: 10_000,
};
