/**
 * The post → check seam, one lane per destination agent. An agent's built assignments wait in
 * its own backlog, are posted with at most `maxAssignmentsPerAgent` unfinished, and are polled
 * by its own checker, so a slow, busy or unreachable agent holds back only its own work (issue
 * 12 #13). An agent that does not answer is asked again with backoff for the outage tolerance
 * — its state is durable, a restart loses nothing — before what it holds is given up and its
 * objects are placed elsewhere (#4, DESIGN invariant 9).
 */
import type { StorageNode, Task } from '../../../api/common.ts';
import { Semaphore, sleep } from '../../../async/index.ts';
import type { Logger } from '../../../log/index.ts';
import type { AssignmentRecord, SkipReasonDb } from '../../store/index.ts';
import { type AgentClient, AgentTransportError, type EvacuateSettings } from './types.ts';

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
}

interface InFlight {
  a: BuiltAssignment;
  postedAt: number;
  /** Since when its polls have gone unanswered. */
  failingSince: number | undefined;
  failures: number;
}

export class AgentLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly idleWaiters: (() => void)[] = [];
  readonly requests: Semaphore;

  constructor(readonly deps: AgentLanesDeps) {
    this.requests = new Semaphore(deps.settings.agentRequestConcurrency);
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

class Lane {
  private readonly backlog: BuiltAssignment[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  /** Since when the agent has not answered a post (undefined: it answers). */
  downSince: number | undefined;
  private posting: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private slotWaiter: (() => void) | undefined;

  constructor(
    private readonly lanes: AgentLanes,
    private readonly dest: StorageNode,
  ) {}

  get load(): number {
    return this.backlog.length + this.inFlight.size + (this.posting ? 1 : 0);
  }

  get active(): boolean {
    return this.load > 0 || this.checking !== undefined;
  }

  private get deps(): AgentLanesDeps {
    return this.lanes.deps;
  }

  enqueue(a: BuiltAssignment): void {
    this.backlog.push(a);
    this.startPosting();
  }

  adopt(a: BuiltAssignment, postedAt: number): void {
    this.inFlight.set(a.record.id, { a, postedAt, failingSince: undefined, failures: 0 });
    this.startChecking();
  }

  private startPosting(): void {
    if (this.posting || this.deps.signal.aborted) return;
    this.posting = this.loop('posting', () => this.postAll());
    this.posting.then(() => {
      this.posting = undefined;
      if (this.backlog.length > 0) this.startPosting();
      this.lanes.notify();
    });
  }

  private startChecking(): void {
    if (this.checking || this.deps.signal.aborted) return;
    this.checking = this.loop('checking', () => this.checkAll());
    this.checking.then(() => {
      this.checking = undefined;
      if (this.inFlight.size > 0) this.startChecking();
      this.lanes.notify();
    });
  }

  /** Runs a lane loop; its errors fail the job (an abort is the job ending: nothing to add). */
  private loop(stage: string, body: () => Promise<void>): Promise<void> {
    return body().catch((err: unknown) => {
      if (!this.deps.signal.aborted) this.deps.fail(stage, err);
    });
  }

  /** Resolves when an in-flight assignment leaves, or the job ends. */
  private slotFreed(): Promise<void> {
    const { signal } = this.deps;
    return new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      this.slotWaiter = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async postAll(): Promise<void> {
    const { settings, signal } = this.deps;
    for (;;) {
      signal.throwIfAborted();
      if (this.inFlight.size >= settings.maxAssignmentsPerAgent) {
        await this.slotFreed();
        continue;
      }
      const a = this.backlog.shift();
      if (!a) return;
      await this.postOne(a);
    }
  }

  private async postOne(a: BuiltAssignment): Promise<void> {
    const { agents, outcomes, settings, signal, log } = this.deps;
    const fields = { assignment: a.record.id, shark: this.dest.manta_storage_id };
    const payload = { id: a.record.id, tasks: a.tasks };
    let busy = 0;
    let failures = 0;
    for (;;) {
      let outcome: Awaited<ReturnType<AgentClient['post']>>;
      try {
        outcome = await this.lanes.requests.run(() => agents.post(this.dest, payload, signal));
      } catch (err) {
        if (!(err instanceof AgentTransportError)) throw err;
        failures++;
        this.downSince ??= Date.now();
        const down = Date.now() - this.downSince;
        if (down >= settings.agentOutageToleranceMs) {
          log.warn({ ...fields, err, downMs: down }, 'agent unreachable past the outage tolerance');
          await outcomes.abandoned(a, 'destination_unreachable');
          return;
        }
        if (failures === 1) log.warn({ ...fields, err }, 'agent unreachable; posting again');
        await sleep(settings.agentRetryDelayMs(failures), signal);
        continue;
      }
      this.downSince = undefined;
      if (outcome.kind === 'accepted' || (outcome.kind === 'rejected' && outcome.status === 409)) {
        // 409: the agent already has this assignment (posted before a restart).
        await outcomes.posted(a);
        log.info({ ...fields, tasks: a.tasks.length }, 'assignment posted');
        this.adopt(a, Date.now());
        return;
      }
      if (outcome.kind === 'rejected') {
        const reason = busy > 0 ? 'agent_busy' : 'assignment_rejected';
        log.warn({ ...fields, status: outcome.status, reason }, 'agent rejected the assignment');
        await outcomes.refused(a, reason);
        return;
      }
      busy++;
      if (busy > settings.busyRetries) {
        log.warn({ ...fields, reason: 'agent_busy', attempts: busy }, 'agent stayed busy');
        await outcomes.refused(a, 'agent_busy');
        return;
      }
      log.info({ ...fields, attempt: busy }, 'agent busy (503): posting again later');
      await sleep(settings.busyDelayMs(busy), signal);
    }
  }

  private async checkAll(): Promise<void> {
    const { settings, signal } = this.deps;
    while (this.inFlight.size > 0) {
      signal.throwIfAborted();
      let answered = false;
      let leastFailures = Number.POSITIVE_INFINITY;
      for (const entry of [...this.inFlight.values()]) {
        signal.throwIfAborted();
        if (await this.checkOne(entry)) answered = true;
        else if (entry.failures === 0) answered = true;
        leastFailures = Math.min(leastFailures, entry.failures);
      }
      if (this.inFlight.size === 0) return;
      // Polls that go unanswered back off; an agent that answers is polled at the interval.
      const wait = answered
        ? settings.checkIntervalMs
        : Math.max(settings.checkIntervalMs, settings.agentRetryDelayMs(leastFailures));
      await sleep(wait, signal);
    }
  }

  /** Polls one assignment; true when it left the lane. */
  private async checkOne(entry: InFlight): Promise<boolean> {
    const { agents, outcomes, settings, signal, log } = this.deps;
    const { a } = entry;
    const fields = { assignment: a.record.id, shark: this.dest.manta_storage_id };
    let outcome: Awaited<ReturnType<AgentClient['get']>>;
    try {
      outcome = await agents.get(this.dest, a.record.id, signal);
    } catch (err) {
      if (!(err instanceof AgentTransportError)) throw err;
      entry.failures++;
      entry.failingSince ??= Date.now();
      const down = Date.now() - entry.failingSince;
      if (down < settings.agentOutageToleranceMs) {
        if (entry.failures === 1) log.warn({ ...fields, err }, 'agent unreachable; polling again');
        return false;
      }
      this.leave(entry);
      log.warn({ ...fields, err, downMs: down }, 'agent unreachable past the outage tolerance');
      await outcomes.abandoned(a, 'network_error');
      return true;
    }
    entry.failures = 0;
    entry.failingSince = undefined;
    if (outcome.kind === 'missing') {
      this.leave(entry);
      log.warn({ ...fields, status: outcome.status }, 'agent does not know the assignment');
      await outcomes.abandoned(a, 'agent_assignment_no_ent');
      return true;
    }
    const state = outcome.state;
    if (state === 'Scheduled' || state === 'Running') {
      if (Date.now() - entry.postedAt <= 2 * settings.maxAssignmentAgeSec * 1000) return false;
      this.leave(entry);
      log.warn({ ...fields, reason: 'agent_assignment_timeout' }, 'assignment timed out');
      await outcomes.refused(a, 'agent_assignment_timeout');
      return true;
    }
    this.leave(entry);
    await outcomes.finished(a, state.Complete ?? [], entry.postedAt);
    return true;
  }

  private leave(entry: InFlight): void {
    this.inFlight.delete(entry.a.record.id);
    const wake = this.slotWaiter;
    this.slotWaiter = undefined;
    wake?.();
  }
}
