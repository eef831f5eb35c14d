/** The `jobs` table: one row per job, its parameters, state and the cause of a failure. */
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { StorageNode } from '../../api/common.ts';
import type { JobActionDb, JobStateDb } from '../../api/manager.ts';
import type { Queryable } from '../../db/index.ts';
import { parseJobAction, parseJobState, UnknownStoredValueError } from './enums.ts';

export interface EvacuateJobParams {
  from_shark: string;
  /** null: unlimited. */
  max_objects: number | null;
}

export interface JobRecord {
  id: string;
  action: JobActionDb;
  state: JobStateDb;
  params: EvacuateJobParams;
  fromShark: StorageNode;
  retryOf: string | undefined;
  metadataThreads: number;
  error: string | undefined;
  /** When the operator asked for the job to be cancelled; it winds down from then on. */
  cancelRequestedAt: Date | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export const NON_TERMINAL_JOB_STATES: readonly JobStateDb[] = ['init', 'setup', 'running'];
export const TERMINAL_JOB_STATES: readonly JobStateDb[] = [
  'stopped',
  'complete',
  'failed',
  'cancelled',
];

interface JobRow extends Record<string, unknown> {
  id: string;
  action: string;
  state: string;
  params: unknown;
  from_shark: unknown;
  retry_of: string | null;
  metadata_threads: number;
  error: string | null;
  cancel_requested_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, action, state, params, from_shark, retry_of, metadata_threads, error,
  cancel_requested_at, created_at, updated_at`;

const checkParams = Compile(
  Type.Object({
    from_shark: Type.String(),
    max_objects: Type.Union([Type.Number(), Type.Null()]),
  }),
);
/** Extra members of a stored shark (none are written) are dropped, not refused. */
const checkShark = Compile(Type.Object(StorageNode.properties));

function parseParams(value: unknown): EvacuateJobParams {
  if (!checkParams.Check(value)) throw new UnknownStoredValueError('job params', value);
  return { from_shark: value.from_shark, max_objects: value.max_objects };
}

function parseShark(value: unknown): StorageNode {
  if (!checkShark.Check(value)) throw new UnknownStoredValueError('job from_shark', value);
  return { manta_storage_id: value.manta_storage_id, datacenter: value.datacenter };
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    action: parseJobAction(row.action),
    state: parseJobState(row.state),
    params: parseParams(row.params),
    fromShark: parseShark(row.from_shark),
    retryOf: row.retry_of ?? undefined,
    metadataThreads: row.metadata_threads,
    error: row.error ?? undefined,
    cancelRequestedAt: row.cancel_requested_at ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewJob {
  id: string;
  action: JobActionDb;
  params: EvacuateJobParams;
  fromShark: StorageNode;
  retryOf?: string;
  metadataThreads: number;
}

export async function insertJob(db: Queryable, job: NewJob): Promise<JobRecord> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (id, action, state, params, from_shark, retry_of, metadata_threads)
     VALUES ($1, $2, 'setup', $3::jsonb, $4::jsonb, $5, $6) RETURNING ${COLUMNS}`,
    [
      job.id,
      job.action,
      JSON.stringify(job.params),
      JSON.stringify(job.fromShark),
      job.retryOf ?? null,
      job.metadataThreads,
    ],
  );
  return toRecord(rows[0]!);
}

export async function getJob(db: Queryable, id: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

export async function listJobs(db: Queryable): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs ORDER BY created_at, id`);
  return rows.map(toRecord);
}

export async function jobsInStates(
  db: Queryable,
  states: readonly JobStateDb[],
): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${COLUMNS} FROM jobs WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
    [states],
  );
  return rows.map(toRecord);
}

/**
 * Moves a job to `to` only when its current state is one of `from`; returns the updated
 * record, or undefined when the job is missing or in another state.
 */
export async function setJobState(
  db: Queryable,
  id: string,
  from: readonly JobStateDb[],
  to: JobStateDb,
  error?: string,
): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET state = $3, error = $4, updated_at = now()
      WHERE id = $1 AND state = ANY($2::text[]) RETURNING ${COLUMNS}`,
    [id, from, to, error ?? null],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/**
 * Records that the operator cancelled a job not yet finished (the first request's time is
 * kept); returns the updated record, or undefined when the job is missing or finished.
 */
export async function requestJobCancel(db: Queryable, id: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
      WHERE id = $1 AND state = ANY($2::text[]) RETURNING ${COLUMNS}`,
    [id, NON_TERMINAL_JOB_STATES],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

export async function setJobFromShark(db: Queryable, id: string, ref: StorageNode): Promise<void> {
  await db.query('UPDATE jobs SET from_shark = $2::jsonb, updated_at = now() WHERE id = $1', [
    id,
    JSON.stringify(ref),
  ]);
}

export async function setJobMetadataThreads(db: Queryable, id: string, n: number): Promise<void> {
  await db.query('UPDATE jobs SET metadata_threads = $2, updated_at = now() WHERE id = $1', [
    id,
    n,
  ]);
}
