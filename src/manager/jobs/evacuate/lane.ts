/**
 * One destination agent's lane (agent-lanes.ts): its backlog of built assignments, posted
 * with at most `maxAssignmentsPerAgent` unfinished once the job's pause and limits let them
 * go, and the assignments it holds, polled until they leave. What the agent answers while it
 * holds the job up is reported as a blocker, and cleared when it answers again.
 */
import type { StorageNode } from '../../../api/common.ts';
import { sleep } from '../../../async/index.ts';
import type { AgentLanes, AgentLanesDeps, BuiltAssignment } from './agent-lanes.ts';
import { type AgentClient, AgentTransportError } from './types.ts';

interface InFlight {
  a: BuiltAssignment;
  postedAt: number;
  /** Since when its polls have gone unanswered. */
  failingSince: number | undefined;
  failures: number;
  /** Answered polls that found it still running, and when it is polled next. */
  polls: number;
  nextPollAt: number;
}

/**
 * The first poll of an assignment comes this soon after its post, the next ones twice as late
 * each time, up to `checkIntervalMs`: a small assignment (a convergence round's, a short job's
 * last) is seen done in a fraction of the interval, and a long one costs a few polls more.
 */
const FIRST_POLL_MS = 50;

export class Lane {
  private readonly backlog: BuiltAssignment[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  /** Since when the agent has not answered a post (undefined: it answers). */
  downSince: number | undefined;
  private posting: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private slotWaiter: (() => void) | undefined;
  /** Ends the polling loop's wait early: an assignment was posted meanwhile. */
  private pollWaker: (() => void) | undefined;

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

  private get source(): string {
    return `agent ${this.dest.manta_storage_id}`;
  }

  enqueue(a: BuiltAssignment): void {
    this.backlog.push(a);
    this.startPosting();
  }

  adopt(a: BuiltAssignment, postedAt: number): void {
    const first = Math.min(FIRST_POLL_MS, this.deps.settings.checkIntervalMs);
    this.inFlight.set(a.record.id, {
      a,
      postedAt,
      failingSince: undefined,
      failures: 0,
      polls: 0,
      nextPollAt: postedAt + first,
    });
    this.pollWaker?.();
    this.startChecking();
  }

  private startPosting(): void {
    if (this.posting || this.deps.signal.aborted) return;
    this.posting = this.loop('posting', () => this.postAll());
    this.posting.then(() => {
      this.posting = undefined;
      if (this.backlog.length > 0) this.startPosting();
      this.ended();
    });
  }

  private startChecking(): void {
    if (this.checking || this.deps.signal.aborted) return;
    this.checking = this.loop('checking', () => this.checkAll());
    this.checking.then(() => {
      this.checking = undefined;
      if (this.inFlight.size > 0) this.startChecking();
      this.ended();
    });
  }

  /** A loop ended: an agent left with no work of the job no longer holds it up. */
  private ended(): void {
    if (!this.active) {
      this.deps.blockers.clear(this.source, 'requests');
      this.deps.blockers.clear(this.source, 'posting');
    }
    this.lanes.notify();
  }

  /**
   * Waits while the job is paused; false once it is cancelled (paused or not): a cancel starts
   * nothing new, so what is not posted is withdrawn and the cancel ends without waiting out
   * the job's limits.
   */
  private async mayPost(): Promise<boolean> {
    const { gate, cancelled } = this.deps.control;
    if (cancelled.aborted) return false;
    if (gate.isOpen) return true;
    try {
      await gate.wait(this.lanes.stopWaiting);
    } catch (err) {
      this.deps.signal.throwIfAborted();
      if (!cancelled.aborted) throw err;
    }
    return gate.isOpen && !cancelled.aborted;
  }

  private async withdrawBacklog(): Promise<void> {
    for (let a = this.backlog.shift(); a; a = this.backlog.shift()) {
      await this.deps.outcomes.withdrawn(a);
    }
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
      if (this.backlog.length === 0) return;
      if (!(await this.mayPost())) return this.withdrawBacklog();
      const a = this.backlog.shift();
      if (!a) return;
      const { pacer, cancelled } = this.deps.control;
      const paced = pacer.acquire(a.tasks.length, a.record.totalBytes, this.lanes.stopWaiting);
      if (paced) {
        try {
          await paced;
        } catch (err) {
          signal.throwIfAborted();
          if (!cancelled.aborted) throw err;
        }
      }
      // Paused (or cancelled) while it waited for the limit: it waits for the pause too.
      if (paced && !(await this.mayPost())) {
        this.backlog.unshift(a);
        return this.withdrawBacklog();
      }
      await this.postOne(a);
    }
  }

  private async postOne(a: BuiltAssignment): Promise<void> {
    const { agents, outcomes, settings, signal, log, blockers, control } = this.deps;
    const fields = { assignment: a.record.id, shark: this.dest.manta_storage_id };
    const payload = { id: a.record.id, tasks: a.tasks };
    let busy = 0;
    let failures = 0;
    for (;;) {
      // A post asked again (busy, unanswered) waits out a pause too.
      if ((busy > 0 || failures > 0) && !(await this.mayPost())) return outcomes.withdrawn(a);
      let outcome: Awaited<ReturnType<AgentClient['post']>>;
      try {
        outcome = await this.lanes.requests.run(() => agents.post(this.dest, payload, signal));
      } catch (err) {
        if (!(err instanceof AgentTransportError)) throw err;
        failures++;
        this.downSince ??= Date.now();
        blockers.report(this.source, err.message, 'requests');
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
      blockers.clear(this.source, 'requests');
      if (outcome.kind === 'accepted' || (outcome.kind === 'rejected' && outcome.status === 409)) {
        // 409: the agent already has this assignment (posted before a restart).
        blockers.clear(this.source, 'posting');
        control.pacer.posted(a.tasks.length, a.record.totalBytes);
        await outcomes.posted(a);
        log.info({ ...fields, tasks: a.tasks.length }, 'assignment posted');
        this.adopt(a, Date.now());
        return;
      }
      if (outcome.kind === 'rejected') {
        const reason = busy > 0 ? 'agent_busy' : 'assignment_rejected';
        log.warn({ ...fields, status: outcome.status, reason }, 'agent rejected the assignment');
        const problem = `rejected an assignment: HTTP ${outcome.status}: ${outcome.message}`;
        blockers.report(this.source, problem, 'posting');
        await outcomes.refused(a, reason);
        return;
      }
      busy++;
      blockers.report(this.source, `busy (HTTP 503) to ${busy} posts in a row`, 'posting');
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
      for (const entry of [...this.inFlight.values()]) {
        signal.throwIfAborted();
        if (entry.nextPollAt > Date.now() || (await this.checkOne(entry))) continue;
        // Polls that go unanswered back off; one answered comes later each time, up to the
        // interval.
        if (entry.failures === 0) entry.polls++;
        const wait =
          entry.failures > 0
            ? Math.max(settings.checkIntervalMs, settings.agentRetryDelayMs(entry.failures))
            : Math.min(settings.checkIntervalMs, FIRST_POLL_MS * 2 ** entry.polls);
        entry.nextPollAt = Date.now() + wait;
      }
      if (this.inFlight.size === 0) return;
      let next = Number.POSITIVE_INFINITY;
      for (const entry of this.inFlight.values()) next = Math.min(next, entry.nextPollAt);
      await this.pollWait(Math.max(0, next - Date.now()));
    }
  }

  /** Until the next due poll, or an assignment posted meanwhile, or the job's end. */
  private pollWait(ms: number): Promise<void> {
    const { signal } = this.deps;
    return new Promise<void>((resolve, reject) => {
      // A listener added to a signal already aborted would never fire.
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.pollWaker = undefined;
        if (signal.aborted) reject(signal.reason);
        else resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.pollWaker = done;
    });
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
      this.deps.blockers.report(this.source, err.message, 'requests');
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
    this.deps.blockers.clear(this.source, 'requests');
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
