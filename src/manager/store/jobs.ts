/** The `jobs` table: one row per job, its parameters, state and the cause of a failure. */
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { StorageNode } from '../../api/common.ts';
import { type JobLimits, LIMIT_NAMES } from '../../api/limits.ts';
import {
  type JobActionDb,
  type JobStateDb,
  SINGLE_COPIES,
  type SingleCopies,
} from '../../api/manager.ts';
import type { Queryable } from '../../db/index.ts';
import { parseJobAction, parseJobState, UnknownStoredValueError } from './enums.ts';

export interface EvacuateJobParams {
  from_shark: string;
  /** null: unlimited. */
  max_objects: number | null;
  /** Absent in rows recorded before the option: those jobs skipped single copies (`skip`). */
  single_copies?: SingleCopies;
  /** Convergence rounds after the main pass; absent in rows recorded before: none (0). */
  converge_rounds?: number;
  /** An audit job: check each other copy's MD5, not only its size. */
  deep?: boolean;
}

export interface JobRecord {
  id: string;
  action: JobActionDb;
  state: JobStateDb;
  params: EvacuateJobParams;
  fromShark: StorageNode;
  retryOf: string | undefined;
  metadataThreads: number;
  /** A dry run: discovery and placement only, ending `planned`. */
  dryRun: boolean;
  limits: JobLimits;
  /** When discovery ended: from then on the job's totals are exact. */
  discoveredAt: Date | undefined;
  error: string | undefined;
  /** When the operator asked for the job to be cancelled; it winds down from then on. */
  cancelRequestedAt: Date | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export const NON_TERMINAL_JOB_STATES: readonly JobStateDb[] = [
  'init',
  'setup',
  'running',
  'paused',
];
export const TERMINAL_JOB_STATES: readonly JobStateDb[] = [
  'stopped',
  'complete',
  'failed',
  'cancelled',
  'planned',
];

interface JobRow extends Record<string, unknown> {
  id: string;
  action: string;
  state: string;
  params: unknown;
  from_shark: unknown;
  retry_of: string | null;
  metadata_threads: number;
  dry_run: boolean;
  limits: unknown;
  discovered_at: Date | null;
  error: string | null;
  cancel_requested_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, action, state, params, from_shark, retry_of, metadata_threads, dry_run,
  limits, discovered_at, error, cancel_requested_at, created_at, updated_at`;

const checkParams = Compile(
  Type.Object({
    from_shark: Type.String(),
    max_objects: Type.Union([Type.Number(), Type.Null()]),
    single_copies: Type.Optional(Type.Enum([...SINGLE_COPIES])),
    converge_rounds: Type.Optional(Type.Integer({ minimum: 0 })),
    deep: Type.Optional(Type.Boolean()),
  }),
);
const limitValue = Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]));
const checkLimits = Compile(
  Type.Object({
    objects_per_second: limitValue,
    bytes_per_second: limitValue,
    metadata_updates_per_second: limitValue,
  }),
);

/** No limits: every one unlimited. */
export const UNLIMITED: JobLimits = {
  objects_per_second: null,
  bytes_per_second: null,
  metadata_updates_per_second: null,
};

/** Stored limits; a limit not stored (a job from before limits) is unlimited. */
function parseLimits(value: unknown): JobLimits {
  if (!checkLimits.Check(value)) throw new UnknownStoredValueError('job limits', value);
  const limits = { ...UNLIMITED };
  for (const name of LIMIT_NAMES) limits[name] = value[name] ?? null;
  return limits;
}

/** Extra members of a stored shark (none are written) are dropped, not refused. */
const checkShark = Compile(Type.Object(StorageNode.properties));

function parseParams(value: unknown): EvacuateJobParams {
  if (!checkParams.Check(value)) throw new UnknownStoredValueError('job params', value);
  return {
    from_shark: value.from_shark,
    max_objects: value.max_objects,
    single_copies: value.single_copies ?? 'skip',
    converge_rounds: value.converge_rounds ?? 0,
    ...(value.deep === undefined ? {} : { deep: value.deep }),
  };
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
    dryRun: row.dry_run,
    limits: parseLimits(row.limits),
    discoveredAt: row.discovered_at ?? undefined,
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
  dryRun?: boolean;
  limits?: JobLimits;
}

export async function insertJob(db: Queryable, job: NewJob): Promise<JobRecord> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (id, action, state, params, from_shark, retry_of, metadata_threads,
                       dry_run, limits)
     VALUES ($1, $2, 'setup', $3::jsonb, $4::jsonb, $5, $6, $7, $8::jsonb) RETURNING ${COLUMNS}`,
    [
      job.id,
      job.action,
      JSON.stringify(job.params),
      JSON.stringify(job.fromShark),
      job.retryOf ?? null,
      job.metadataThreads,
      job.dryRun ?? false,
      JSON.stringify(job.limits ?? UNLIMITED),
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

/** Replaces a job's limits; returns the record, or undefined when it is missing or finished. */
export async function setJobLimits(
  db: Queryable,
  id: string,
  limits: JobLimits,
): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET limits = $2::jsonb, updated_at = now()
      WHERE id = $1 AND state = ANY($3::text[]) RETURNING ${COLUMNS}`,
    [id, JSON.stringify(limits), NON_TERMINAL_JOB_STATES],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/** Discovery of the job ended (the first end is kept: a resumed run finds nothing new). */
export async function setJobDiscovered(db: Queryable, id: string): Promise<void> {
  await db.query(
    'UPDATE jobs SET discovered_at = coalesce(discovered_at, now()), updated_at = now() WHERE id = $1',
    [id],
  );
}
