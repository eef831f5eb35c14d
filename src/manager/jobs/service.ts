/**
 * The job operations behind the HTTP API: create, list, status, update, retry, cancel.
 * Errors are typed so the API maps them to 400, 404, 409 or 503.
 */
import { randomUUID } from 'node:crypto';
import {
  type CreateJobPayload,
  type DuplicateList,
  type DuplicateQuery,
  type JobListEntry,
  type JobResults,
  type JobStatus,
  jobActionName,
  jobStateName,
  RESULT_STATUS_KEYS,
  type TierResults,
  type UpdateJobPayload,
} from '../../api/manager.ts';
import { RebalancerError } from '../../errors.ts';
import type { Logger } from '../../log/index.ts';
import type { SharkDirectory } from '../sharks.ts';
import {
  type CountRow,
  type JobRecord,
  type ManagerStore,
  NON_TERMINAL_JOB_STATES,
  type OBJECT_STATUSES,
  TERMINAL_JOB_STATES,
  UnknownStoredValueError,
} from '../store/index.ts';
import { type JobRunner, JobStateError } from './runner.ts';

export class BadRequestError extends RebalancerError {
  override readonly name = 'BadRequestError';
  readonly code = 'bad_request';
}
export class NotFoundError extends RebalancerError {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
}
export class ConflictError extends RebalancerError {
  override readonly name = 'ConflictError';
  readonly code = 'conflict';
}
/** A dependency (e.g. storinfo) could not answer: try again later (503). */
export class UnavailableError extends RebalancerError {
  override readonly name = 'UnavailableError';
  readonly code = 'unavailable';
}
/** `snaplink_cleanup_required` is set: no job may be created (manager.md §6.2). */
export class SnaplinkCleanupRequiredError extends RebalancerError {
  override readonly name = 'SnaplinkCleanupRequiredError';
  readonly code = 'snaplink_cleanup_required';
}

/** A page cursor: the last duplicate's (objectId, key, shard), opaque to clients. */
function duplicateCursor(d: { id: string; key: string; shard: number }): string {
  return Buffer.from(JSON.stringify([d.id, d.key, d.shard])).toString('base64url');
}

function parseDuplicateCursor(text: string): { id: string; key: string; shard: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    Number.isInteger(parsed[2])
  ) {
    return { id: parsed[0], key: parsed[1], shard: parsed[2] as number };
  }
  throw new BadRequestError(`after: ${JSON.stringify(text.slice(0, 64))} is not a page cursor`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a job UUID from a URL; lower-cases it. */
export function parseJobId(text: string): string {
  if (!UUID.test(text)) throw new BadRequestError(`Invalid UUID: ${JSON.stringify(text)}`);
  return text.toLowerCase();
}

export interface JobServiceOptions {
  store: ManagerStore;
  runner: JobRunner;
  sharks: SharkDirectory;
  log: Logger;
  /** Read per request, so a reloaded config applies to later requests (§6.6). */
  settings: () => {
    snaplinkCleanupRequired: boolean;
    metadataThreads: number;
    /** L's `use_static_md_update_threads`: the thread count is fixed, PUT cannot tune it. */
    staticMetadataThreads?: boolean;
  };
}

const STATUS_KEYS: Record<(typeof OBJECT_STATUSES)[number], (typeof RESULT_STATUS_KEYS)[number]> = {
  unprocessed: 'Unprocessed',
  assigned: 'Assigned',
  skipped: 'Skipped',
  error: 'Error',
  post_processing: 'Post Processing',
  complete: 'Complete',
};

/** L's status `results` (manager.md §2.4) from the incremental counters. */
export function buildResults(rows: readonly CountRow[]): JobResults {
  const results: JobResults = {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 0,
    'Post Processing': 0,
    Complete: 0,
    Duplicates: 0,
    Total: 0,
  };
  const errors: Record<string, Record<string, number>> = {};
  const skips: Record<string, number> = {};
  const v2 = tierResults();
  for (const row of rows) {
    if (row.bucket === 'buckets_status') {
      const key = STATUS_KEYS[row.name as keyof typeof STATUS_KEYS];
      if (key === undefined) throw new UnknownStoredValueError('status counter', row.name);
      v2[key] = row.count;
    } else if (row.bucket === 'status') {
      const key = STATUS_KEYS[row.name as keyof typeof STATUS_KEYS];
      if (key === undefined) throw new UnknownStoredValueError('status counter', row.name);
      results[key] = row.count;
    } else if (row.bucket === 'duplicates') {
      results.Duplicates += row.count;
    } else if (row.count > 0 && row.bucket === 'error') {
      const [backend, detail] = row.name.startsWith('moray_')
        ? ['moray', row.name.slice(6)]
        : row.name.startsWith('mdapi_')
          ? ['mdapi', row.name.slice(6)]
          : ['other', row.name];
      errors[backend] = { ...errors[backend], [detail]: row.count };
    } else if (row.count > 0 && row.bucket === 'skip') {
      skips[row.name] = row.count;
    }
  }
  results.Total =
    RESULT_STATUS_KEYS.reduce((sum, key) => sum + results[key], 0) + results.Duplicates;
  if (Object.keys(errors).length > 0) results.error_breakdown = errors;
  if (Object.keys(skips).length > 0) results.skip_breakdown = skips;
  // v2 objects are counted apart and v1 is the rest; a job without v2 objects keeps L's shape.
  const v1 = tierResults();
  for (const key of RESULT_STATUS_KEYS) {
    v1[key] = results[key] - v2[key];
    v1.Total += v1[key];
    v2.Total += v2[key];
  }
  if (v2.Total > 0) results.tiers = { v1, v2 };
  return results;
}

function tierResults(): TierResults {
  return {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 0,
    'Post Processing': 0,
    Complete: 0,
    Total: 0,
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
    const shark = await this.resolveShark(payload.params.from_shark);
    await this.refuseSecondJobOn(shark.manta_storage_id);
    const max = payload.params.max_objects;
    const job = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: {
        from_shark: payload.params.from_shark,
        max_objects: max === 0 || max === undefined ? null : max,
      },
      fromShark: shark,
      metadataThreads: current.metadataThreads,
    });
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
    const other = unfinished.find((j) => j.fromShark.manta_storage_id === shark);
    if (other) {
      throw new ConflictError(
        `Job ${other.id} is already evacuating ${shark} (${jobStateName(other.state)})`,
      );
    }
  }

  async list(): Promise<JobListEntry[]> {
    const jobs = await this.options.store.listJobs();
    return jobs.map((j) => ({
      id: j.id,
      action: jobActionName(j.action),
      state: jobStateName(j.state),
    }));
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.options.store.getJob(parseJobId(id));
    if (!job) throw new NotFoundError(`Job ${id} not found`);
    return job;
  }

  async status(id: string): Promise<JobStatus> {
    const job = await this.get(id);
    const counts = await this.options.store.counts(job.id);
    const status: JobStatus = {
      config: { action: jobActionName(job.action), from_shark: job.fromShark },
      results: buildResults(counts),
      state: jobStateName(job.state),
      created_at: job.createdAt.toISOString(),
      updated_at: job.updatedAt.toISOString(),
      max_objects: job.params.max_objects,
      metadata_threads: job.metadataThreads,
    };
    if (job.error !== undefined) status.error = job.error;
    if (job.retryOf !== undefined) status.retry_of = job.retryOf;
    return status;
  }

  /** Runtime tuning of a running job (§2.5); retry jobs too (fixes §13.11). */
  async update(id: string, payload: UpdateJobPayload): Promise<void> {
    const job = await this.get(id);
    if (job.state !== 'running' && job.state !== 'setup') {
      throw new ConflictError(
        `Attempt to update job that is not running (state ${jobStateName(job.state)})`,
      );
    }
    if (this.options.settings().staticMetadataThreads) {
      throw new ConflictError(
        'Metadata update threads are static (options.use_static_md_update_threads): not tunable',
      );
    }
    await this.options.store.setJobMetadataThreads(job.id, payload.params);
    // A job between start and registering its controls reads the stored value when it starts.
    this.options.runner.controls(job.id)?.setMetadataThreads(payload.params);
  }

  /**
   * Retries a finished job (§2.6, §4.13): a new job over the previous one's skipped and
   * errored objects. Only a finished job may be retried (§13.11).
   */
  async retry(id: string): Promise<JobRecord> {
    const { store, runner, settings } = this.options;
    const previous = await this.get(id);
    if (!TERMINAL_JOB_STATES.includes(previous.state)) {
      throw new ConflictError(
        `Job ${previous.id} is ${jobStateName(previous.state)}: only a finished job can be retried`,
      );
    }
    await this.refuseSecondJobOn(previous.fromShark.manta_storage_id);
    const job = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: previous.fromShark.manta_storage_id, max_objects: null },
      fromShark: previous.fromShark,
      retryOf: previous.id,
      metadataThreads: settings().metadataThreads,
    });
    runner.submit(job);
    return job;
  }

  /** A page of the job's duplicates (snaplinks) and what became of each (issue 12 #8). */
  async duplicates(id: string, query: DuplicateQuery): Promise<DuplicateList> {
    const job = await this.get(id);
    const limit = query.limit === undefined ? 1000 : Number(query.limit);
    if (limit > 10_000) throw new BadRequestError(`limit ${limit} is over 10000`);
    const after = query.after === undefined ? undefined : parseDuplicateCursor(query.after);
    const rows = await this.options.store.listDuplicates(job.id, after, limit);
    const duplicates = rows.map((d) => ({
      object_id: d.id,
      key: d.key,
      shard: d.shard,
      status: d.status,
      ...(d.reason === undefined ? {} : { reason: d.reason }),
    }));
    const last = rows[rows.length - 1];
    return rows.length === limit && last
      ? { duplicates, next: duplicateCursor(last) }
      : { duplicates };
  }

  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    try {
      return await this.options.runner.cancel(job.id);
    } catch (err) {
      if (err instanceof JobStateError) throw new ConflictError(err.message, { cause: err });
      throw err;
    }
  }
}
