/**
 * The job operations behind the HTTP API: create (or plan), list, status, update (threads,
 * limits), pause, resume, retry, cancel. Errors are typed (errors.ts) so the API maps them to
 * 400, 404, 409 or 503.
 */
import { randomUUID } from 'node:crypto';
import type { AuditParams, AuditQuery, AuditReport } from '../../api/audit.ts';
import { DEFAULT_CONVERGE_ROUNDS } from '../../api/convergence.ts';
import { type JobLimits, LIMIT_NAMES, type LimitChanges } from '../../api/limits.ts';
import {
  type CreateJobPayload,
  type DuplicateList,
  type DuplicateQuery,
  type JobListEntry,
  type JobStatus,
  jobActionName,
  jobStateName,
  type UpdateJobPayload,
} from '../../api/manager.ts';
import type { JobPlan } from '../../api/plan.ts';

import type { JobProgress } from '../../api/progress.ts';
import type { Logger } from '../../log/index.ts';
import { AuditNotRetryableError } from '../audit/executor.ts';
import { auditReport, sharkAudit } from '../audit/report.ts';
import type { SharkDirectory } from '../sharks.ts';
import {
  type CountRow,
  type JobRecord,
  type ManagerStore,
  NON_TERMINAL_JOB_STATES,
  TERMINAL_JOB_STATES,
  UNLIMITED,
} from '../store/index.ts';
import { convergenceEvents, convergenceOf } from './convergence-report.ts';
import { duplicatePage } from './duplicate-pages.ts';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  SnaplinkCleanupRequiredError,
  UnavailableError,
} from './errors.ts';
import { buildResults } from './results.ts';
import { type JobRunner, JobStateError } from './runner.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a job UUID from a URL; lower-cases it. */
export function parseJobId(text: string): string {
  if (!UUID.test(text)) throw new BadRequestError(`Invalid UUID: ${JSON.stringify(text)}`);
  return text.toLowerCase();
}

/** A job's `progress` from its record and counters (src/manager/jobs/progress.ts). */
export interface ProgressSource {
  progress(job: JobRecord, counts: readonly CountRow[]): Promise<JobProgress>;
}

export interface JobServiceOptions {
  store: ManagerStore;
  runner: JobRunner;
  sharks: SharkDirectory;
  log: Logger;
  progress?: ProgressSource;
  /** Read per request, so a reloaded config applies to later requests (§6.6). */
  settings: () => {
    snaplinkCleanupRequired: boolean;
    metadataThreads: number;
    /** L's `use_static_md_update_threads`: the thread count is fixed, PUT cannot tune it. */
    staticMetadataThreads?: boolean;
  };
}

export class JobService {
  constructor(private readonly options: JobServiceOptions) {}

  async create(payload: CreateJobPayload): Promise<JobRecord> {
    const { store, runner, settings } = this.options;
    const current = settings();
    if (current.snaplinkCleanupRequired) {
      throw new SnaplinkCleanupRequiredError('Snaplink Cleanup Required');
    }
    if (payload.action === 'audit') return this.createAudit(payload.params);
    const { params } = payload;
    const shark = await this.resolveShark(params.from_shark);
    const dryRun = params.dry_run === true;
    // A plan moves nothing: it may be made while the shark is being evacuated.
    if (!dryRun) await this.refuseSecondJobOn(shark.manta_storage_id);
    const max = params.max_objects;
    const job = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: {
        from_shark: params.from_shark,
        max_objects: max === 0 || max === undefined ? null : max,
        single_copies: params.single_copies ?? 'copy',
        converge_rounds: params.converge_rounds ?? DEFAULT_CONVERGE_ROUNDS,
      },
      fromShark: shark,
      metadataThreads: current.metadataThreads,
      dryRun,
      limits: withChanges(UNLIMITED, params),
    });
    await store.recordJobEvent(job.id, 'created', { dry_run: dryRun, limits: job.limits });
    runner.submit(job);
    return job;
  }

  /** An audit moves nothing: it may run while the shark is being evacuated, or audited. */
  private async createAudit(params: AuditParams): Promise<JobRecord> {
    const { store, runner, settings } = this.options;
    const shark = await this.resolveShark(params.shark);
    const deep = params.deep === true;
    const job = await store.createJob({
      id: randomUUID(),
      action: 'audit',
      params: { from_shark: params.shark, max_objects: null, deep },
      fromShark: shark,
      metadataThreads: settings().metadataThreads,
    });
    await store.recordJobEvent(job.id, 'created', { deep });
    runner.submit(job);
    return job;
  }

  private async resolveShark(
    name: string,
  ): Promise<{ manta_storage_id: string; datacenter: string }> {
    let shark: Awaited<ReturnType<SharkDirectory['resolve']>>;
    try {
      shark = await this.options.sharks.resolve(name);
    } catch (err) {
      throw new UnavailableError(
        `cannot check shark ${name}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    if (!shark) throw new BadRequestError(`Unknown shark: ${name}`);
    return shark;
  }

  /** One job at a time per shark: two would race on the same records (issue 12 #2). */
  private async refuseSecondJobOn(shark: string): Promise<void> {
    const unfinished = await this.options.store.jobsInStates(NON_TERMINAL_JOB_STATES);
    const other = unfinished.find(
      (j) => j.action === 'evacuate' && !j.dryRun && j.fromShark.manta_storage_id === shark,
    );
    if (other) {
      throw new ConflictError(
        `Job ${other.id} is already evacuating ${shark} (${jobStateName(other.state)})`,
      );
    }
  }

  /** Every job; one not finished with its progress and limits (its rates and ETA). */
  async list(): Promise<JobListEntry[]> {
    const jobs = await this.options.store.listJobs();
    const out: JobListEntry[] = [];
    for (const j of jobs) {
      const entry: JobListEntry = {
        id: j.id,
        action: jobActionName(j.action),
        state: jobStateName(j.state),
        from_shark: j.fromShark.manta_storage_id,
      };
      // An audit has no limits, and its progress is its report's counts.
      if (NON_TERMINAL_JOB_STATES.includes(j.state) && j.action !== 'audit') {
        entry.limits = j.limits;
        const progress = await this.progressOf(j);
        if (progress) entry.progress = progress;
      }
      out.push(entry);
    }
    return out;
  }

  private async progressOf(
    job: JobRecord,
    counts?: readonly CountRow[],
  ): Promise<JobProgress | undefined> {
    const source = this.options.progress;
    if (!source) return undefined;
    return source.progress(job, counts ?? (await this.options.store.counts(job.id)));
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.options.store.getJob(parseJobId(id));
    if (!job) throw new NotFoundError(`Job ${id} not found`);
    return job;
  }

  async status(id: string): Promise<JobStatus> {
    const jobId = parseJobId(id);
    const { store } = this.options;
    // What needs only the id is read at once; a second round is left only for an audit's
    // unsafe objects and an estimate's plan.
    const [job, counts, auditRecord, convergenceRounds] = await Promise.all([
      this.get(jobId),
      store.counts(jobId),
      store.getAudit(jobId),
      convergenceEvents(store, jobId),
    ]);
    const status: JobStatus = {
      config: { action: jobActionName(job.action), from_shark: job.fromShark },
      results: buildResults(counts),
      state: jobStateName(job.state),
      created_at: job.createdAt.toISOString(),
      updated_at: job.updatedAt.toISOString(),
      max_objects: job.params.max_objects,
      metadata_threads: job.metadataThreads,
      dry_run: job.dryRun,
      single_copies: job.params.single_copies ?? 'skip',
      limits: job.limits,
    };
    const [progress, audit] = await Promise.all([
      job.action === 'audit' ? undefined : this.progressOf(job, counts),
      auditRecord === undefined ? undefined : auditReport(store, auditRecord),
    ]);
    const convergence = convergenceOf(job, convergenceRounds);
    if (progress) status.progress = progress;
    if (audit) status.audit = audit;
    if (convergence) status.convergence = convergence;
    if (job.error !== undefined) status.error = job.error;
    if (job.retryOf !== undefined) status.retry_of = job.retryOf;
    return status;
  }

  /**
   * Runtime tuning of a job not finished (§2.5; retry jobs too, fixing §13.11): its metadata
   * threads, or its limits. A change is kept in the store (a restarted manager keeps it),
   * logged, and reaches the running job at once.
   */
  async update(id: string, payload: UpdateJobPayload): Promise<void> {
    const job = await this.get(id);
    if (!['setup', 'running', 'paused'].includes(job.state)) {
      throw new ConflictError(
        `Attempt to update job that is not running (state ${jobStateName(job.state)})`,
      );
    }
    if (job.action === 'audit')
      throw new ConflictError('An audit has no limits or threads to tune');
    const { store, runner, log } = this.options;
    if (payload.action === 'set_limits') {
      const limits = withChanges(job.limits, payload.params);
      if (!(await store.setJobLimits(job.id, limits))) {
        throw new ConflictError(`Job ${job.id} finished: its limits can no longer change`);
      }
      await store.recordJobEvent(job.id, 'limits_changed', { from: job.limits, to: limits });
      log.info({ job: job.id, from: job.limits, to: limits }, 'job limits changed');
      // A job not yet holding its controls reads the stored limits when it starts.
      runner.controls(job.id)?.setLimits?.(limits);
      return;
    }
    if (job.dryRun) throw new ConflictError('A dry run updates no metadata: no threads to tune');
    if (this.options.settings().staticMetadataThreads) {
      throw new ConflictError(
        'Metadata update threads are static (options.use_static_md_update_threads): not tunable',
      );
    }
    await store.setJobMetadataThreads(job.id, payload.params);
    await store.recordJobEvent(job.id, 'metadata_threads_changed', {
      from: job.metadataThreads,
      to: payload.params,
    });
    runner.controls(job.id)?.setMetadataThreads?.(payload.params);
  }

  /** Pauses a running job: nothing new starts; work on agents finishes (409 otherwise). */
  async pause(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (job.dryRun) throw new ConflictError('A dry run moves nothing: it cannot be paused');
    if (job.action === 'audit') {
      throw new ConflictError('An audit moves nothing: it cannot be paused (cancel it instead)');
    }
    return this.asConflict(() => this.options.runner.pause(job.id));
  }

  /** Resumes a paused job (409 otherwise). */
  async resume(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    return this.asConflict(() => this.options.runner.resume(job.id));
  }

  /** A dry run's plan: 404 for a job that is no dry run, 409 while it is being made. */
  async plan(id: string): Promise<JobPlan> {
    const job = await this.get(id);
    if (!job.dryRun) throw new NotFoundError(`Job ${job.id} is not a dry run: it has no plan`);
    const plan = await this.options.store.getPlan(job.id);
    if (plan) return plan;
    if (NON_TERMINAL_JOB_STATES.includes(job.state)) {
      throw new ConflictError(`Job ${job.id} is still planning (${jobStateName(job.state)})`);
    }
    throw new NotFoundError(`Job ${job.id} ended ${jobStateName(job.state)} without a plan`);
  }

  private async asConflict(fn: () => Promise<JobRecord>): Promise<JobRecord> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof JobStateError) throw new ConflictError(err.message, { cause: err });
      throw err;
    }
  }

  /**
   * Retries a finished job (§2.6, §4.13): a new job over the previous one's skipped and
   * errored objects. Only a finished job may be retried (§13.11).
   */
  async retry(id: string): Promise<JobRecord> {
    const { store, runner, settings } = this.options;
    const previous = await this.get(id);
    if (previous.action === 'audit') {
      throw new AuditNotRetryableError(
        `Job ${previous.id} is an audit: it is not retried, start a new audit (it scans afresh)`,
      );
    }
    if (previous.dryRun) {
      throw new ConflictError(`Job ${previous.id} is a dry run: create a job to move its objects`);
    }
    if (!TERMINAL_JOB_STATES.includes(previous.state)) {
      throw new ConflictError(
        `Job ${previous.id} is ${jobStateName(previous.state)}: only a finished job can be retried`,
      );
    }
    await this.refuseSecondJobOn(previous.fromShark.manta_storage_id);
    const job = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: {
        from_shark: previous.fromShark.manta_storage_id,
        max_objects: null,
        single_copies: previous.params.single_copies ?? 'skip',
        converge_rounds: previous.params.converge_rounds ?? DEFAULT_CONVERGE_ROUNDS,
      },
      fromShark: previous.fromShark,
      retryOf: previous.id,
      metadataThreads: settings().metadataThreads,
      limits: previous.limits,
    });
    runner.submit(job);
    return job;
  }

  /** `GET /sharks/{id}/audit`: the shark's newest audit, or the job's, a page of its unsafe objects. */
  async sharkAudit(name: string, query: AuditQuery): Promise<AuditReport> {
    return sharkAudit(this.options, name, query);
  }

  /** A page of the job's duplicates (snaplinks) and what became of each (issue 12 #8). */
  async duplicates(id: string, query: DuplicateQuery): Promise<DuplicateList> {
    const job = await this.get(id);
    return duplicatePage(this.options.store, job.id, query);
  }

  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    return this.asConflict(() => this.options.runner.cancel(job.id));
  }
}

/** `limits` with the limits named in `changes` replaced (null: unlimited). */
function withChanges(limits: JobLimits, changes: LimitChanges): JobLimits {
  const out = { ...limits };
  for (const name of LIMIT_NAMES) {
    const value = changes[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
