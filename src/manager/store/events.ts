/**
 * The `job_events` table: a job's notable events (pauses, resumes, limit changes, stalls,
 * restarts), in order, for the operator and the console.
 */
import { JOB_EVENT_KINDS, type JobEventKind } from '../../api/console.ts';
import type { Queryable } from '../../db/index.ts';
import { UnknownStoredValueError } from './enums.ts';

// The kinds are part of the API (the console shows them): declared there, stored as such.
export { JOB_EVENT_KINDS, type JobEventKind };

export interface JobEvent {
  seq: number;
  at: Date;
  kind: JobEventKind;
  detail: Record<string, unknown>;
}

export async function recordJobEvent(
  db: Queryable,
  jobId: string,
  kind: JobEventKind,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query('INSERT INTO job_events (job_id, kind, detail) VALUES ($1, $2, $3::jsonb)', [
    jobId,
    kind,
    JSON.stringify(detail),
  ]);
}

/** The job's events after `afterSeq` (only those of `kind` when given), oldest first. */
export async function listJobEvents(
  db: Queryable,
  jobId: string,
  afterSeq: number,
  limit: number,
  kind?: JobEventKind,
): Promise<JobEvent[]> {
  const { rows } = await db.query<{ seq: string; at: Date; kind: string; detail: unknown }>(
    `SELECT seq, at, kind, detail FROM job_events
      WHERE job_id = $1 AND seq > $2 AND ($4::text IS NULL OR kind = $4)
      ORDER BY seq LIMIT $3`,
    [jobId, afterSeq, limit, kind ?? null],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: r.at,
    kind: parseKind(r.kind),
    detail: parseDetail(r.detail),
  }));
}

function parseKind(text: string): JobEventKind {
  const kind = JOB_EVENT_KINDS.find((k) => k === text);
  if (kind === undefined) throw new UnknownStoredValueError('job event kind', text);
  return kind;
}

function parseDetail(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UnknownStoredValueError('job event detail', value);
  }
  return { ...value };
}
