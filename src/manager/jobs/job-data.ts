/**
 * A job's data without SQL (issue 19): its objects page by page, filtered as the runbook's
 * queries filtered them, and the deletion of a finished job with all its rows — by an operator
 * (`DELETE /jobs/{uuid}`) or by `job_retention_days` (retention.ts). Refusals are typed: 400 a
 * bad UUID or filter, 404 an unknown job, 409 a job not finished.
 */
import {
  JOB_OBJECTS_PAGE,
  type JobDeleted,
  type JobObjectEntry,
  type JobObjectList,
  type JobObjectsQuery,
} from '../../api/job-objects.ts';
import {
  FINAL_JOB_STATE_NAMES,
  JOB_STATES,
  type JobStateDb,
  jobStateName,
} from '../../api/manager.ts';
import {
  isSkipReason,
  type JobObjectFilter,
  type JobObjectRecord,
  type ManagerStore,
  OBJECT_ERRORS,
  OBJECT_STATUSES,
  type ObjectErrorDb,
  type ObjectStatus,
  SKIP_REASONS,
} from '../store/index.ts';
import { BadRequestError, ConflictError, NotFoundError } from './errors.ts';
import { parseJobId } from './service.ts';

/** The stored states whose wire names are final: a job in one never changes again. */
const FINAL_STATES: readonly JobStateDb[] = JOB_STATES.filter((s) =>
  FINAL_JOB_STATE_NAMES.includes(jobStateName(s)),
);

export interface JobDataOptions {
  readonly store: ManagerStore;
  /** Jobs running in this process: one may have just written its final state, still winding down. */
  readonly running: () => readonly string[];
}

export class JobDataService {
  constructor(private readonly options: JobDataOptions) {}

  /** A page of the job's objects (400 a bad filter, 404 an unknown job). */
  async objects(uuid: string, query: JobObjectsQuery): Promise<JobObjectList> {
    const { store } = this.options;
    const id = parseJobId(uuid);
    const filter = parseFilter(query);
    if ((await store.getJob(id)) === undefined) throw new NotFoundError(`Job ${uuid} not found`);
    // The query's pattern bounds the limit (src/api/job-objects.ts).
    const limit = query.limit === undefined ? JOB_OBJECTS_PAGE : Number(query.limit);
    // One more than asked tells whether a next page exists, sparing the client an empty one.
    const rows = await store.jobData.listObjects(id, filter, query.after, limit + 1);
    const page = rows.slice(0, limit);
    return {
      objects: page.map(toEntry),
      next: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  /** Deletes a finished job and all its rows (404 unknown, 409 not finished or still read). */
  async delete(uuid: string): Promise<JobDeleted> {
    const id = parseJobId(uuid);
    if (this.options.running().includes(id)) {
      throw new ConflictError(`Job ${id} is still winding down: try again in a moment`);
    }
    const outcome = await this.options.store.jobData.deleteJob(id, FINAL_STATES);
    if (outcome.deleted) return { deleted: id, objects: outcome.objects };
    switch (outcome.why) {
      case 'missing':
        throw new NotFoundError(`Job ${uuid} not found`);
      case 'unfinished':
        throw new ConflictError(
          `Job ${id} is ${jobStateName(outcome.state)}: only a finished job can be deleted (${FINAL_JOB_STATE_NAMES.join(', ')})`,
        );
      case 'retried':
        throw new ConflictError(
          `Job ${id} is being retried by job ${outcome.by} (${jobStateName(outcome.state)}), which reads its objects`,
        );
    }
  }

  /**
   * Deletes every finished job last changed before `before` (oldest first), telling
   * `purged` of each as it goes; returns them. A job that changed meanwhile (a retry of it
   * began) is left for the next purge.
   */
  async purgeBefore(before: Date, purged?: (job: JobDeleted) => void): Promise<JobDeleted[]> {
    const { store, running } = this.options;
    const gone: JobDeleted[] = [];
    for (const id of await store.jobData.finishedBefore(FINAL_STATES, before)) {
      if (running().includes(id)) continue;
      const outcome = await store.jobData.deleteJob(id, FINAL_STATES);
      if (!outcome.deleted) continue;
      const job = { deleted: id, objects: outcome.objects };
      gone.push(job);
      purged?.(job);
    }
    return gone;
  }
}

const STATUSES: ReadonlySet<string> = new Set(OBJECT_STATUSES);
const ERRORS: ReadonlySet<string> = new Set(OBJECT_ERRORS);

/** The query's filters, each checked: an unknown status or reason is named in the 400. */
function parseFilter(query: JobObjectsQuery): JobObjectFilter {
  const filter: JobObjectFilter = {};
  if (query.status !== undefined) {
    if (!STATUSES.has(query.status)) {
      throw new BadRequestError(
        `Unknown status ${JSON.stringify(query.status)}: one of ${OBJECT_STATUSES.join(', ')}`,
      );
    }
    filter.status = query.status as ObjectStatus;
  }
  const reason = query.reason;
  if (reason !== undefined) {
    if (isSkipReason(reason)) filter.reason = { skipped: reason };
    else if (ERRORS.has(reason)) filter.reason = { error: reason as ObjectErrorDb };
    else {
      throw new BadRequestError(
        `Unknown reason ${JSON.stringify(reason)}: a skip reason (${SKIP_REASONS.join(', ')}, {http_status_code:N}) or an error code (${OBJECT_ERRORS.join(', ')})`,
      );
    }
    // A reason belongs to one status: asking another is a mistake worth saying, not an empty page.
    const implied = 'skipped' in filter.reason ? 'skipped' : 'error';
    if (filter.status !== undefined && filter.status !== implied) {
      throw new BadRequestError(
        `Reason ${JSON.stringify(reason)} is ${implied === 'skipped' ? 'a skip reason' : 'an error code'}: its objects are ${implied}, not ${filter.status}`,
      );
    }
  }
  if (query.key_prefix !== undefined) filter.keyPrefix = query.key_prefix;
  return filter;
}

function toEntry(o: JobObjectRecord): JobObjectEntry {
  return {
    id: o.id,
    key: o.key,
    shard: o.shard,
    tier: o.tier === 'buckets' ? 'v2' : 'v1',
    status: o.status,
    reason: o.skippedReason ?? o.error ?? null,
    detail: o.errorDetail ?? null,
    dest_shark: o.destShark ?? null,
    assignment_id: o.assignmentId ?? null,
    content_length: o.contentLength ?? null,
    updated_at: o.updatedAt.toISOString(),
  };
}
