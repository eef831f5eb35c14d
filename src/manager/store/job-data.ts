/**
 * A job's data for operators (issue 19): its objects paged by id with filters, and the deletion
 * of a finished job with every row that names it (each table references `jobs`, or `audits`,
 * ON DELETE CASCADE; a retry's `retry_of` is set null, migration 13).
 */
import type { JobStateDb } from '../../api/manager.ts';
import type { Database, Queryable } from '../../db/index.ts';
import {
  type MetadataTier,
  type ObjectErrorDb,
  type ObjectStatus,
  parseJobState,
  parseObjectError,
  parseObjectStatus,
  parseSkipReason,
  parseTier,
  type SkipReasonDb,
} from './enums.ts';
import { NON_TERMINAL_JOB_STATES } from './jobs.ts';

/** What a page of a job's objects is narrowed to; every filter given must hold. */
export interface JobObjectFilter {
  status?: ObjectStatus;
  /** A skip reason or an error code: each lives in its own column, with its own status. */
  reason?: { skipped: SkipReasonDb } | { error: ObjectErrorDb };
  keyPrefix?: string;
}

export interface JobObjectRecord {
  id: string;
  key: string;
  shard: number;
  tier: MetadataTier;
  status: ObjectStatus;
  skippedReason: SkipReasonDb | undefined;
  error: ObjectErrorDb | undefined;
  errorDetail: string | undefined;
  destShark: string | undefined;
  assignmentId: string | undefined;
  /** Undefined without a record, or one whose contentLength is no whole size. */
  contentLength: number | undefined;
  updatedAt: Date;
}

interface Row extends Record<string, unknown> {
  id: string;
  key: string;
  shard: number;
  tier: string;
  status: string;
  skipped_reason: string | null;
  error: string | null;
  error_detail: string | null;
  dest_shark: string | null;
  assignment_id: string | null;
  content_length: string | null;
  updated_at: Date;
}

/** Why a job was not deleted, or how many of its objects went with it. */
export type DeleteOutcome =
  | { deleted: true; objects: number }
  | { deleted: false; why: 'missing' }
  | { deleted: false; why: 'unfinished'; state: JobStateDb }
  | { deleted: false; why: 'retried'; by: string; state: JobStateDb };

/** The `retry_of` children of `jobs.id` not yet finished: their discovery reads its objects. */
const UNFINISHED_RETRY = `SELECT r.id, r.state FROM jobs r
  WHERE r.retry_of = jobs.id AND r.state = ANY($2::text[])`;

export class JobDataStore {
  constructor(private readonly db: Database) {}

  /**
   * A page of the job's objects after id `after`, by id. With a status (given, or implied by a
   * reason) it walks the (job_id, status, id) index; otherwise the primary key (job_id, id);
   * the reason and the key prefix filter the rows it walks.
   */
  async listObjects(
    jobId: string,
    filter: JobObjectFilter,
    after: string | undefined,
    limit: number,
  ): Promise<JobObjectRecord[]> {
    const params: unknown[] = [jobId, after ?? ''];
    const where = ['job_id = $1', 'id > $2'];
    const add = (sql: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    const reason = filter.reason;
    const status = reason === undefined ? filter.status : 'skipped' in reason ? 'skipped' : 'error';
    if (filter.status !== undefined && filter.status !== status) return [];
    if (status !== undefined) add((n) => `status = ${n}`, status);
    if (reason !== undefined && 'skipped' in reason) {
      add((n) => `skipped_reason = ${n}`, reason.skipped);
    }
    if (reason !== undefined && 'error' in reason) add((n) => `error = ${n}`, reason.error);
    if (filter.keyPrefix !== undefined) add((n) => `starts_with(key, ${n})`, filter.keyPrefix);
    params.push(limit);
    const { rows } = await this.db.query<Row>(
      `SELECT id, key, shard, tier, status, skipped_reason, error, error_detail, dest_shark,
              assignment_id, updated_at,
              CASE WHEN jsonb_typeof(object -> 'contentLength') = 'number'
                   THEN (object ->> 'contentLength')::numeric::text END AS content_length
         FROM evacuate_objects
        WHERE ${where.join(' AND ')}
        ORDER BY id LIMIT $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }

  /**
   * Deletes the job and every row of it, in one transaction, when its state is one of `final`
   * and no unfinished retry of it reads its objects. The job's row is locked first, so a retry
   * being created of it waits (its `retry_of` key) and is seen, or fails on the gone job.
   */
  async deleteJob(jobId: string, final: readonly JobStateDb[]): Promise<DeleteOutcome> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ state: string }>(
        'SELECT state FROM jobs WHERE id = $1 FOR UPDATE',
        [jobId],
      );
      if (rows[0] === undefined) return { deleted: false, why: 'missing' };
      const state = parseJobState(rows[0].state);
      if (!final.includes(state)) return { deleted: false, why: 'unfinished', state };
      const retry = await unfinishedRetry(tx, jobId);
      if (retry !== undefined) return { deleted: false, why: 'retried', ...retry };
      // The objects are deleted first only to count them; the cascade takes every other table.
      const objects = await tx.query('DELETE FROM evacuate_objects WHERE job_id = $1', [jobId]);
      await tx.query('DELETE FROM jobs WHERE id = $1', [jobId]);
      return { deleted: true, objects: objects.rowCount };
    });
  }

  /**
   * The jobs in one of `final` states last changed before `before`, oldest first, leaving out
   * those an unfinished retry still reads.
   */
  async finishedBefore(final: readonly JobStateDb[], before: Date): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id FROM jobs
        WHERE state = ANY($1::text[]) AND updated_at < $3::timestamptz
          AND NOT EXISTS (${UNFINISHED_RETRY})
        ORDER BY updated_at, id`,
      [final, NON_TERMINAL_JOB_STATES, before.toISOString()],
    );
    return rows.map((r) => r.id);
  }
}

async function unfinishedRetry(
  tx: Queryable,
  jobId: string,
): Promise<{ by: string; state: JobStateDb } | undefined> {
  const { rows } = await tx.query<{ id: string; state: string }>(
    `SELECT r.id, r.state FROM jobs r WHERE r.retry_of = $1 AND r.state = ANY($2::text[])
      ORDER BY r.created_at LIMIT 1`,
    [jobId, NON_TERMINAL_JOB_STATES],
  );
  const row = rows[0];
  return row === undefined ? undefined : { by: row.id, state: parseJobState(row.state) };
}

function toRecord(row: Row): JobObjectRecord {
  return {
    id: row.id,
    key: row.key,
    shard: row.shard,
    tier: parseTier(row.tier),
    status: parseObjectStatus(row.status),
    skippedReason: row.skipped_reason === null ? undefined : parseSkipReason(row.skipped_reason),
    error: row.error === null ? undefined : parseObjectError(row.error),
    errorDetail: row.error_detail ?? undefined,
    destShark: row.dest_shark ?? undefined,
    assignmentId: row.assignment_id ?? undefined,
    contentLength: sizeOf(row.content_length),
    updatedAt: row.updated_at,
  };
}

/** A user's record is data, not ours: a size that is no whole number reads as unknown. */
function sizeOf(text: string | null): number | undefined {
  if (text === null || !/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
