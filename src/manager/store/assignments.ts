/**
 * Assignments of evacuate jobs (manager.md §4.6), persisted so that a restarted manager knows
 * which were built, posted to an agent, or reported complete, and resumes each where it was.
 */
import type { Queryable } from '../../db/index.ts';
import { ROW_BYTES } from './counts.ts';
import { type AssignmentState, parseAssignmentState } from './enums.ts';
import { moveCounted } from './moves.ts';

export interface AssignmentRecord {
  id: string;
  jobId: string;
  destShark: string;
  destDatacenter: string;
  state: AssignmentState;
  taskCount: number;
  totalBytes: number;
  createdAt: Date;
  postedAt: Date | undefined;
}

interface AssignmentRow extends Record<string, unknown> {
  id: string;
  job_id: string;
  dest_shark: string;
  dest_datacenter: string;
  state: string;
  task_count: number;
  total_bytes: string;
  created_at: Date;
  posted_at: Date | null;
}

const COLUMNS =
  'id, job_id, dest_shark, dest_datacenter, state, task_count, total_bytes, created_at, posted_at';

function toRecord(row: AssignmentRow): AssignmentRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    destShark: row.dest_shark,
    destDatacenter: row.dest_datacenter,
    state: parseAssignmentState(row.state),
    taskCount: row.task_count,
    totalBytes: Number(row.total_bytes),
    createdAt: row.created_at,
    postedAt: row.posted_at ?? undefined,
  };
}

export interface NewAssignment {
  id: string;
  destShark: string;
  destDatacenter: string;
  totalBytes: number;
  objectIds: readonly string[];
}

/**
 * Creates the assignment (state `init`) and moves its objects from `unprocessed` to `assigned`
 * in one statement (moves.ts). Objects no longer unprocessed are left out; the returned record
 * counts only the objects actually assigned, and no assignment is created when there are none.
 */
export async function createAssignment(
  db: Queryable,
  jobId: string,
  a: NewAssignment,
): Promise<{ assignment: AssignmentRecord; objectIds: string[] } | undefined> {
  const rows = await moveCounted<AssignmentRow & { object_id: string }>(db, jobId, {
    update: `UPDATE evacuate_objects SET status = 'assigned', assignment_id = $3, dest_shark = $4,
                    skipped_reason = NULL, error = NULL, error_detail = NULL, updated_at = now()
              WHERE job_id = $1 AND status = 'unprocessed' AND id = ANY($2::text[])
              RETURNING id, tier, ${ROW_BYTES} AS bytes`,
    params: [jobId, a.objectIds, a.id, a.destShark, a.destDatacenter, a.totalBytes],
    from: 'unprocessed',
    to: 'assigned',
    ctes: [
      `created AS (
         INSERT INTO assignments (id, job_id, dest_shark, dest_datacenter, state, task_count, total_bytes)
         SELECT $3::uuid, $1::uuid, $4::text, $5::text, 'init', totals.n, $6::bigint FROM totals WHERE totals.n > 0
         RETURNING ${COLUMNS})`,
    ],
    select: 'SELECT moved.id AS object_id, created.* FROM moved CROSS JOIN created',
    name: 'create-assignment',
  });
  const first = rows[0];
  if (first === undefined) return undefined;
  return { assignment: toRecord(first), objectIds: rows.map((r) => r.object_id) };
}

/** Moves an assignment to `to` only from one of `from`; false when it was in another state. */
export async function setAssignmentState(
  db: Queryable,
  id: string,
  from: readonly AssignmentState[],
  to: AssignmentState,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE assignments SET state = $3, updated_at = now(),
            posted_at = CASE WHEN $3 = 'assigned' THEN now() ELSE posted_at END
      WHERE id = $1 AND state = ANY($2::text[])`,
    [id, from, to],
  );
  return rowCount === 1;
}

export async function assignmentsInStates(
  db: Queryable,
  jobId: string,
  states: readonly AssignmentState[],
): Promise<AssignmentRecord[]> {
  const { rows } = await db.query<AssignmentRow>(
    `SELECT ${COLUMNS} FROM assignments WHERE job_id = $1 AND state = ANY($2::text[])
      ORDER BY created_at, id`,
    [jobId, states],
  );
  return rows.map(toRecord);
}

export async function getAssignment(
  db: Queryable,
  id: string,
): Promise<AssignmentRecord | undefined> {
  const { rows } = await db.query<AssignmentRow>(
    `SELECT ${COLUMNS} FROM assignments WHERE id = $1`,
    [id],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}
