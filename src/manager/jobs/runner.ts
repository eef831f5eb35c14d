/**
 * Runs jobs: several at once, each in the background so that submitting never blocks the API
 * (§13.7). At start every job left in a non-terminal state is resumed — L marked them failed
 * (§3.4); every job's state lives in the database, so we pick it up where it was (DESIGN
 * invariant 5). Every job ends with a final state written, and a failure records its real cause
 * (CRIT-7, IMP-8, §13.18).
 */

import type { JobLimits } from '../../api/limits.ts';
import type { JobStateDb } from '../../api/manager.ts';
import { RebalancerError } from '../../errors.ts';
import type { Logger } from '../../log/index.ts';
import { type JobRecord, type ManagerStore, NON_TERMINAL_JOB_STATES } from '../store/index.ts';

/** Something holding a job up now (an agent, a metadata shard, storinfo) and what it answers. */
export interface Blocker {
  source: string;
  problem: string;
  /** Since when, epoch ms. */
  since: number;
}

/**
 * What a running job offers the operator while it runs (`PUT /jobs/{uuid}`, pause, resume,
 * cancel). A dry run offers fewer: the service refuses the others for it.
 */
export interface JobControls {
  /** Cancel gracefully: start nothing new, let in-flight work finish, then return. */
  cancel(): void;
  setMetadataThreads?(n: number): void;
  /** The job's full limits after a change. */
  setLimits?(limits: JobLimits): void;
  /** Nothing new is posted; work already on agents finishes and its metadata lands. */
  pause?(): void;
  resume?(): void;
  /** What holds the job up now, newest first. */
  blockers?(): readonly Blocker[];
}

export interface JobContext {
  job: JobRecord;
  store: ManagerStore;
  signal: AbortSignal;
  log: Logger;
  /** The job calls this once its tunables exist. */
  registerControls(controls: JobControls): void;
  /** Storage ids every running job is evacuating (this one's included): never destinations. */
  evacuating(): Set<string>;
  /** The job starts paused (it was paused when an earlier manager stopped). */
  paused: boolean;
}

/** Runs one job to its end; resolves on success, rejects with the cause of failure. */
export type JobExecutor = (ctx: JobContext) => Promise<void>;

/** The job was cancelled through the API. */
export class JobCancelledError extends RebalancerError {
  override readonly name = 'JobCancelledError';
  readonly code = 'job_cancelled';
}

/** An operation asked of a job in a state that does not allow it (HTTP 409). */
export class JobStateError extends RebalancerError {
  override readonly name = 'JobStateError';
  readonly code = 'job_state';
}

interface RunningJob {
  job: JobRecord;
  abort: AbortController;
  done: Promise<void>;
  controls: JobControls | undefined;
  /** The operator cancelled it: a job that then winds down ends `cancelled`. */
  cancelled: boolean;
  /** The operator paused it (a job not yet holding controls pauses once it does). */
  paused: boolean;
}

export interface JobRunnerOptions {
  store: ManagerStore;
  executor: JobExecutor;
  log: Logger;
  /** How long a cancel request waits for the job to wind down before answering, ms (10 s). */
  cancelWaitMs?: number;
}

/** Describes an error and its causes in one line, so the job row says what really failed. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      const text = `${cur.name === 'Error' ? '' : `${cur.name}: `}${cur.message}`;
      if (!parts.some((p) => p.includes(cur instanceof Error ? cur.message : ''))) parts.push(text);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(': caused by ');
}

export class JobRunner {
  private readonly running = new Map<string, RunningJob>();
  private stopping = false;

  constructor(private readonly options: JobRunnerOptions) {}

  /** Resumes every job the database shows as not finished; returns their ids. */
  async start(): Promise<string[]> {
    const jobs = await this.options.store.jobsInStates(NON_TERMINAL_JOB_STATES);
    for (const job of jobs) {
      const cancelling = job.cancelRequestedAt !== undefined;
      this.options.log.info({ job: job.id, state: job.state, cancelling }, 'resuming job');
      await this.options.store.recordJobEvent(job.id, 'resumed_after_restart', {
        state: job.state,
      });
      this.launch(job);
    }
    return jobs.map((j) => j.id);
  }

  /** Starts a job already recorded (state setup) in the background. */
  submit(job: JobRecord): void {
    if (this.stopping) throw new JobStateError('the manager is shutting down');
    this.launch(job);
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** Jobs running in this process now. */
  get runningCount(): number {
    return this.running.size;
  }

  controls(id: string): JobControls | undefined {
    return this.running.get(id)?.controls;
  }

  /** The promise of a running job's end (resolved at once when not running). */
  async whenDone(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  /**
   * Cancels a job. A running one starts nothing new, lets the work its agents already have
   * finish (and that work's metadata updates land), then is recorded `cancelled`; the answer
   * comes when it is, or after `cancelWaitMs` with the job still winding down (`running`). A
   * job not running here (or not yet able to wind down) is recorded `cancelled` at once. A
   * finished job → JobStateError.
   */
  async cancel(id: string): Promise<JobRecord> {
    const { store } = this.options;
    const run = this.running.get(id);
    if (run) {
      // Recorded first: a manager restarted while the job winds down resumes it winding down.
      if (!(await store.requestJobCancel(id))) {
        const job = await store.getJob(id);
        throw new JobStateError(
          `job ${id} is ${job?.state ?? 'gone'}: it can no longer be cancelled`,
        );
      }
      run.cancelled = true;
      await store.recordJobEvent(id, 'cancel_requested');
      if (run.controls) run.controls.cancel();
      else run.abort.abort(new JobCancelledError('cancelled by the operator'));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        run.done,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.options.cancelWaitMs ?? 10_000);
        }),
      ]);
      clearTimeout(timer);
      const job = await store.getJob(id);
      if (job) return job;
    }
    const cancelled = await store.setJobState(
      id,
      NON_TERMINAL_JOB_STATES,
      'cancelled',
      'cancelled by the operator',
    );
    if (cancelled) return cancelled;
    const job = await store.getJob(id);
    if (!job) throw new JobStateError(`job ${id} does not exist`);
    throw new JobStateError(
      `job ${id} is ${job.state}: only a job not yet finished can be cancelled`,
    );
  }

  /**
   * Stops running jobs without changing their recorded state (they stay `running`), so the
   * next start resumes them: used for a graceful shutdown.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const runs = [...this.running.values()];
    for (const run of runs) run.abort.abort(new ShutdownError('the manager is shutting down'));
    await Promise.all(runs.map((r) => r.done));
  }

  /** The jobs running in this process. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  /** Storage ids the running jobs are evacuating (a dry run or an audit evacuates nothing). */
  evacuating(): Set<string> {
    const out = new Set<string>();
    for (const r of this.running.values()) {
      if (r.job.action === 'evacuate' && !r.job.dryRun) out.add(r.job.fromShark.manta_storage_id);
    }
    return out;
  }

  /**
   * Pauses a running job: recorded first (a manager restarted meanwhile starts it paused),
   * then nothing new starts. JobStateError unless it is running (or setting up).
   */
  async pause(id: string): Promise<JobRecord> {
    const paused = await this.options.store.setJobState(id, ['setup', 'running'], 'paused');
    if (!paused) throw await this.stateError(id, 'only a running job can be paused');
    const run = this.running.get(id);
    if (run) {
      run.paused = true;
      run.controls?.pause?.();
    }
    await this.options.store.recordJobEvent(id, 'paused');
    this.options.log.info({ job: id }, 'job paused: nothing new starts');
    return paused;
  }

  /** Resumes a paused job. JobStateError unless it is paused. */
  async resume(id: string): Promise<JobRecord> {
    const resumed = await this.options.store.setJobState(id, ['paused'], 'running');
    if (!resumed) throw await this.stateError(id, 'only a paused job can be resumed');
    const run = this.running.get(id);
    if (run) {
      run.paused = false;
      run.controls?.resume?.();
    }
    await this.options.store.recordJobEvent(id, 'resumed');
    this.options.log.info({ job: id }, 'job resumed');
    return resumed;
  }

  private async stateError(id: string, rule: string): Promise<JobStateError> {
    const job = await this.options.store.getJob(id);
    return new JobStateError(
      job ? `job ${id} is ${job.state}: ${rule}` : `job ${id} does not exist`,
    );
  }

  private launch(job: JobRecord): void {
    if (this.running.has(job.id)) return;
    const abort = new AbortController();
    const entry: RunningJob = {
      job,
      abort,
      done: Promise.resolve(),
      controls: undefined,
      cancelled: job.cancelRequestedAt !== undefined,
      paused: job.state === 'paused',
    };
    this.running.set(job.id, entry);
    entry.done = this.run(job, entry).finally(() => this.running.delete(job.id));
  }

  private async run(job: JobRecord, entry: RunningJob): Promise<void> {
    const { store, executor } = this.options;
    const log = this.options.log.child({ job: job.id });
    let current: JobRecord = job;
    try {
      const started =
        (await store.setJobState(job.id, ['init', 'setup', 'running'], 'running')) ??
        (await store.setJobState(job.id, ['paused'], 'paused'));
      if (!started) {
        log.info('job is no longer runnable; not starting it');
        return;
      }
      current = started;
      await executor({
        job: current,
        store,
        signal: entry.abort.signal,
        log,
        registerControls: (controls) => {
          entry.controls = controls;
          // Paused or cancelled before the job could act on it (or before this run started).
          if (entry.paused) controls.pause?.();
          if (entry.cancelled) controls.cancel();
        },
        evacuating: () => this.evacuating(),
        paused: current.state === 'paused' || entry.paused,
      });
      entry.abort.signal.throwIfAborted();
      // A job paused as its last work finished has nothing left to hold back: it ends too.
      const from: JobStateDb[] = ['running', 'paused'];
      if (entry.cancelled) {
        await store.setJobState(job.id, from, 'cancelled', 'cancelled by the operator');
        log.info('job cancelled; its in-flight work finished');
      } else if (current.dryRun) {
        await store.setJobState(job.id, from, 'planned');
        await store.recordJobEvent(job.id, 'planned');
        log.info('dry run planned');
      } else {
        await store.setJobState(job.id, from, 'complete');
        log.info('job complete');
      }
    } catch (err) {
      const reason: unknown = entry.abort.signal.aborted ? entry.abort.signal.reason : err;
      await this.finish(job.id, reason, err, log);
    }
  }

  private async finish(id: string, reason: unknown, err: unknown, log: Logger): Promise<void> {
    const { store } = this.options;
    try {
      if (reason instanceof ShutdownError) {
        log.info('job interrupted by shutdown; it resumes at the next start');
      } else if (reason instanceof JobCancelledError) {
        await store.setJobState(id, NON_TERMINAL_JOB_STATES, 'cancelled', reason.message);
        log.info('job cancelled');
      } else {
        const cause = describeError(err);
        await store.setJobState(id, NON_TERMINAL_JOB_STATES, 'failed', cause);
        log.error({ err }, 'job failed');
      }
    } catch (writeErr) {
      // The final state could not be written: the job stays non-terminal and is resumed at
      // the next start, which is safe (invariant 5).
      log.error({ err: writeErr, cause: err }, 'could not record the end of the job');
    }
  }
}

/** The manager is stopping: running jobs are left to resume at the next start. */
export class ShutdownError extends RebalancerError {
  override readonly name = 'ShutdownError';
  readonly code = 'shutting_down';
}
