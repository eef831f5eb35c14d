/**
 * Runs queued assignments (agent.md §4.4, §11): FIFO admission, at most `workers`
 * assignments dispatching at once, at most `workersPerAssignment` tasks of one assignment
 * in flight, at most `maxDownloads` in flight overall, and download slots handed out
 * round-robin across the dispatching assignments. Tasks are paged in from the store, so
 * memory does not grow with assignment size. Every task ends with a durable outcome
 * (a crash in processing is a failure, never an implied success) before the assignment
 * is completed.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from '../log/index.ts';
import type { AgentMetrics } from './metrics.ts';
import { TaskAbortedError, type TaskProcessor, type TaskResult } from './processor.ts';
import type { AgentStore, AssignmentRow, TaskRow } from './store/index.ts';

export interface SchedulerOptions {
  readonly store: AgentStore;
  readonly processor: TaskProcessor;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly workers: number;
  readonly workersPerAssignment: number;
  readonly maxDownloads: number;
  /** Tasks fetched from the store per page. */
  readonly pageSize?: number;
  /** Delay before retrying a completion that failed to commit, ms. */
  readonly completionRetryMs?: number;
}

interface Entry {
  readonly seq: number;
  readonly uuid: string;
  buffer: TaskRow[];
  lastIdx: number;
  /** No undispatched task left. */
  exhausted: boolean;
  /** Tasks dispatched whose outcome is not yet durable. */
  inflight: number;
  /** Tasks holding a download slot (bounded by workersPerAssignment); their outcome may still be committing. */
  downloading: number;
  started: boolean;
  startedAt: number;
  completing: boolean;
}

export class Scheduler {
  private readonly opts: SchedulerOptions;
  private readonly pageSize: number;
  private queue: Entry[] = [];
  private running = 0;
  private lastSeq = -1;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly settled = new Set<Promise<void>>();
  private retryTimers = new Set<NodeJS.Timeout>();

  constructor(options: SchedulerOptions) {
    this.opts = options;
    this.pageSize = options.pageSize ?? 256;
    // One listener per in-flight request is expected, not a leak.
    setMaxListeners(0, this.abort.signal);
  }

  /** Assignments queued or running (the backpressure count). */
  get size(): number {
    return this.queue.length;
  }

  enqueue(row: AssignmentRow): void {
    if (this.stopping) return;
    this.queue.push({
      seq: row.seq,
      uuid: row.uuid,
      buffer: [],
      lastIdx: -1,
      exhausted: false,
      inflight: 0,
      downloading: 0,
      started: false,
      startedAt: 0,
      completing: false,
    });
    this.opts.metrics.queued.set(this.queue.length);
    this.pump();
  }

  /** The next entry, round-robin by seq among the first `workers` with undispatched tasks. */
  private pick(): Entry | undefined {
    const eligible: Entry[] = [];
    let window = 0;
    for (const e of this.queue) {
      if (e.exhausted || e.completing) continue;
      if (window++ >= this.opts.workers) break;
      if (e.downloading < this.opts.workersPerAssignment) eligible.push(e);
    }
    if (eligible.length === 0) return undefined;
    return eligible.find((e) => e.seq > this.lastSeq) ?? eligible[0];
  }

  private nextTask(e: Entry): TaskRow | undefined {
    if (e.buffer.length === 0 && !e.exhausted) {
      e.buffer = this.opts.store.pendingTasks(e.seq, e.lastIdx, this.pageSize);
      const last = e.buffer[e.buffer.length - 1];
      if (last === undefined) e.exhausted = true;
      else e.lastIdx = last.idx;
    }
    return e.buffer.shift();
  }

  private pump(): void {
    while (!this.stopping && this.running < this.opts.maxDownloads) {
      const e = this.pick();
      if (e === undefined) return;
      let row: TaskRow | undefined;
      try {
        row = this.nextTask(e);
      } catch (err) {
        this.opts.log.error({ err, assignment: e.uuid }, 'reading tasks failed; retrying later');
        this.later(() => this.pump());
        return;
      }
      if (row === undefined) {
        this.maybeComplete(e);
        continue;
      }
      if (!e.started) {
        e.started = true;
        e.startedAt = performance.now();
        this.opts.store.markRunning(e.seq);
        this.opts.log.info({ assignment: e.uuid }, 'Begin processing assignment');
      }
      this.lastSeq = e.seq;
      this.dispatch(e, row);
    }
  }

  private dispatch(e: Entry, row: TaskRow): void {
    e.inflight++;
    e.downloading++;
    this.running++;
    this.opts.metrics.inflight.set(this.running);
    const done = this.runTask(e, row).finally(() => this.settled.delete(done));
    this.settled.add(done);
  }

  private async runTask(e: Entry, row: TaskRow): Promise<void> {
    let result: TaskResult | undefined;
    let released = false;
    // The download slot is free once the bytes are in place: the task's remaining fsyncs and
    // its outcome's group commit wait without holding one (the processor may call it early).
    const release = (): void => {
      if (released) return;
      released = true;
      e.downloading--;
      this.running--;
      this.opts.metrics.inflight.set(this.running);
      if (!this.stopping) this.pump();
    };
    try {
      result = await this.opts.processor(row.task, this.abort.signal, release);
    } catch (err) {
      if (err instanceof TaskAbortedError) {
        this.opts.log.info({ assignment: e.uuid, object: row.task.object_id }, 'task interrupted');
      } else {
        // A crash in processing is a failure with a reason, never a silent success.
        this.opts.log.error({ err, assignment: e.uuid, task: row.task }, 'task crashed');
        result = { status: { Failed: 'AgentFSError' }, outcome: 'failed', bytes: 0 };
      }
    }
    release();
    if (result !== undefined) {
      const reason = result.status === 'Complete' ? undefined : result.status.Failed;
      try {
        await this.opts.store.recordOutcome(e.seq, row.idx, reason);
        this.opts.metrics.taskDone(result.outcome, reason);
      } catch (err) {
        // The task stays pending in the store; completion will fail it explicitly.
        this.opts.log.error({ err, assignment: e.uuid, idx: row.idx }, 'task outcome not recorded');
      }
    }
    e.inflight--;
    if (!this.stopping) {
      this.maybeComplete(e);
      this.pump();
    }
  }

  private maybeComplete(e: Entry): void {
    if (!e.exhausted || e.inflight > 0 || e.completing || this.stopping) return;
    e.completing = true;
    try {
      const leftovers = this.opts.store.completeAssignment(e.seq);
      if (leftovers > 0) {
        this.opts.log.error({ assignment: e.uuid, leftovers }, 'unprocessed tasks reported failed');
      }
    } catch (err) {
      // IMP-5: the assignment stays open and completion is retried; nothing is lost.
      this.opts.log.error({ err, assignment: e.uuid }, 'completing assignment failed; retrying');
      this.later(() => {
        e.completing = false;
        this.maybeComplete(e);
      });
      return;
    }
    const seconds = e.started ? (performance.now() - e.startedAt) / 1000 : 0;
    this.opts.metrics.assignmentFinished(seconds);
    this.opts.log.info({ assignment: e.uuid, seconds }, 'Finished processing assignment');
    this.queue = this.queue.filter((x) => x !== e);
    this.opts.metrics.queued.set(this.queue.length);
    this.pump();
  }

  private later(fn: () => void): void {
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!this.stopping) fn();
    }, this.opts.completionRetryMs ?? 1000);
    this.retryTimers.add(timer);
  }

  /**
   * Stops dispatching; in-flight tasks get `graceMs` to finish (their outcomes are
   * recorded), then are interrupted and left pending for the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    if (this.settled.size === 0) return;
    const all = Promise.allSettled([...this.settled]);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([all.then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.opts.log.warn({ inflight: this.settled.size }, 'interrupting in-flight tasks');
      this.abort.abort();
      await all;
    }
  }

  /** For tests and diagnostics: tasks in flight now. */
  get inflight(): number {
    return this.running;
  }
}
