/**
 * The post → check seam, one lane per destination agent. An agent's built assignments wait in
 * its own backlog, are posted with at most `maxAssignmentsPerAgent` unfinished, and are polled
 * by its own checker, so a slow, busy or unreachable agent holds back only its own work (issue
 * 12 #13). An agent that does not answer is asked again with backoff for the outage tolerance
 * — its state is durable, a restart loses nothing — before what it holds is given up and its
 * objects are placed elsewhere (#4, DESIGN invariant 9). Posting, not polling, obeys the job's
 * pause and its objects/bytes limits (issue 15); what an agent answers while it holds the job
 * up is reported as a blocker.
 */
import type { StorageNode, Task } from '../../../api/common.ts';
import { type Gate, Semaphore } from '../../../async/index.ts';
import type { Logger } from '../../../log/index.ts';
import type { AssignmentRecord, SkipReasonDb } from '../../store/index.ts';
import type { Blockers } from './blockers.ts';
import { Lane } from './lane.ts';
import type { PostPacer } from './limits.ts';
import type { AgentClient, EvacuateSettings } from './types.ts';

export interface BuiltAssignment {
  record: AssignmentRecord;
  dest: StorageNode;
  /** Their objects' reservations on the destination end when the assignment does. */
  tasks: Task[];
}

/** How assignments leave their lane; each is awaited before the lane goes on. */
export interface LaneOutcomes {
  /** The agent has it (accepted now, or 409: it had it from before a restart). */
  posted(a: BuiltAssignment): Promise<void>;
  /** The agent finished it; `failed` are the tasks it could not do. */
  finished(a: BuiltAssignment, failed: readonly Task[], postedAt: number): Promise<void>;
  /** The agent refused it, stayed busy, or never finished it: its objects are skipped. */
  refused(a: BuiltAssignment, reason: SkipReasonDb): Promise<void>;
  /** The agent was gone past the tolerance, or lost it: its objects are placed elsewhere. */
  abandoned(a: BuiltAssignment, reason: SkipReasonDb): Promise<void>;
  /** Cancelled while paused, never posted: its objects stay unprocessed. */
  withdrawn(a: BuiltAssignment): Promise<void>;
}

/** What may hold posting back: the job's pause, its limits, its cancel. */
export interface PostControl {
  /** Closed while the job is paused: nothing new is posted. */
  gate: Gate;
  pacer: PostPacer;
  /** Aborted when the job is cancelled: a paused job then withdraws what it did not post. */
  cancelled: AbortSignal;
}

export type LaneSettings = Pick<
  EvacuateSettings,
  | 'maxAssignmentsPerAgent'
  | 'maxBacklogPerAgent'
  | 'agentOutageToleranceMs'
  | 'agentRetryDelayMs'
  | 'agentRequestConcurrency'
  | 'busyRetries'
  | 'busyDelayMs'
  | 'checkIntervalMs'
  | 'maxAssignmentAgeSec'
>;

export interface AgentLanesDeps {
  agents: AgentClient;
  outcomes: LaneOutcomes;
  settings: LaneSettings;
  log: Logger;
  signal: AbortSignal;
  /** A lane met an error that is not the agent's (the store failed, say): the job fails. */
  fail(stage: string, err: unknown): void;
  control: PostControl;
  blockers: Blockers;
}

export class AgentLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly idleWaiters: (() => void)[] = [];
  readonly requests: Semaphore;
  /** Aborted when the job ends or is cancelled: a wait for the pause gate ends. */
  readonly stopWaiting: AbortSignal;

  constructor(readonly deps: AgentLanesDeps) {
    this.requests = new Semaphore(deps.settings.agentRequestConcurrency);
    this.stopWaiting = AbortSignal.any([deps.signal, deps.control.cancelled]);
  }

  private lane(dest: StorageNode): Lane {
    let lane = this.lanes.get(dest.manta_storage_id);
    if (!lane) {
      lane = new Lane(this, dest);
      this.lanes.set(dest.manta_storage_id, lane);
    }
    return lane;
  }

  /** A built assignment, to be posted when its agent has room. */
  enqueue(a: BuiltAssignment): void {
    this.lane(a.dest).enqueue(a);
  }

  /** An assignment posted before a restart: only to be checked. */
  adopt(a: BuiltAssignment, postedAt: number): void {
    this.lane(a.dest).adopt(a, postedAt);
  }

  /** Agents placement should not use now: not answering, or with a full backlog. */
  avoid(): Set<string> {
    const out = new Set<string>();
    const { maxAssignmentsPerAgent, maxBacklogPerAgent } = this.deps.settings;
    for (const [shark, lane] of this.lanes) {
      if (lane.downSince !== undefined || lane.load >= maxAssignmentsPerAgent + maxBacklogPerAgent)
        out.add(shark);
    }
    return out;
  }

  /** True while any agent holds or awaits work of this job. */
  get busy(): boolean {
    for (const lane of this.lanes.values()) if (lane.active) return true;
    return false;
  }

  /** Resolves once no lane has work (or at once). */
  idle(): Promise<void> {
    if (!this.busy || this.deps.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A lane's loop ended: wake idle() waiters if every lane is done. */
  notify(): void {
    if (this.busy && !this.deps.signal.aborted) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
