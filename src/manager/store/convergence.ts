/**
 * Convergence rounds (issue 16): the explicit lifecycle edge out of a terminal status. A round
 * takes the objects a fresh look may cure, re-reads each, and either reopens it (back to
 * `unprocessed` with its live record), settles it for good (gone, moved off the shark, a bad
 * record), or replaces a version its user rewrote by the new one. Each change is written with
 * the round's number and the counters in the same transaction, so the counts stay exact and
 * each round's report is read back from the rows it touched.
 */
import type { Database, Queryable } from '../../db/index.ts';
import type { MantaObjectValue } from '../../manta/index.ts';
import { CountDeltas, movedRow, ROW_BYTES } from './counts.ts';
import {
  type ObjectErrorDb,
  type ObjectStatus,
  parseObjectStatus,
  type SkipReasonDb,
  type UnitSkipReasonDb,
} from './enums.ts';
import {
  OBJECT_COLUMNS,
  type ObjectRow,
  type RecordedObject,
  type StoredObject,
  tierOfObject,
  toStored,
} from './object-rows.ts';
import { recordText } from './records.ts';

/**
 * Skip reasons a fresh look may cure: an agent, a source, a destination or the network that
 * failed for a while, an assignment that timed out, a record changed under us. HTTP statuses of
 * a source (`{http_status_code:N}`) count too.
 */
export const CURABLE_SKIP_REASONS: readonly UnitSkipReasonDb[] = [
  'agent_fs_error',
  'agent_assignment_no_ent',
  'agent_busy',
  'assignment_error',
  'assignment_mismatch',
  'assignment_rejected',
  'destination_insufficient_space',
  'destination_unreachable',
  'md5_mismatch',
  'network_error',
  'object_already_on_dest_shark',
  'source_other_error',
  'source_object_not_found',
  'agent_assignment_timeout',
  'metadata_etag_mismatch',
  'evacuated_shark_unreachable',
];

/** Errors a fresh look may cure: a metadata shard that failed, a record changed under us. */
export const CURABLE_ERRORS: readonly ObjectErrorDb[] = [
  'metadata_update_failed',
  'moray_update_failed',
  'mdapi_update_failed',
  'moray_etag_mismatch',
  'mdapi_etag_mismatch',
];

/** What a round does with one curable object, after reading it live. */
export type ConvergeChange =
  /** Still on the shark, same object: placed again from its live record. */
  | { kind: 'reopen'; from: StoredObject; etag: string; object: MantaObjectValue }
  /** Nothing a later look can change: gone, moved off the shark, a bad record. */
  | {
      kind: 'settle';
      from: StoredObject;
      to: { status: 'skipped'; reason: SkipReasonDb } | { status: 'error'; error: ObjectErrorDb };
      detail?: string;
    }
  /** Its user rewrote it: the old version says so; the new one, when on the shark, is taken. */
  | { kind: 'rewritten'; from: StoredObject; successor: RecordedObject | undefined };

/** What a round's changes amounted to. */
export interface ConvergeApplied {
  reopened: number;
  settled: number;
  rewritten: number;
  /** New versions recorded (a successor already in the job is not recorded twice). */
  successors: number;
}

const curableWhere = `status IN ('skipped', 'error')
   AND (skipped_reason = ANY($2::text[]) OR skipped_reason LIKE '{http_status_code:%'
        OR error = ANY($3::text[]))
   AND (converge_round IS NULL OR converge_round < $4)`;

/** A page (by id, after `afterId`) of the job's curable objects not yet taken by `round`. */
export async function curableObjects(
  db: Queryable,
  jobId: string,
  round: number,
  afterId: string | undefined,
  limit: number,
): Promise<StoredObject[]> {
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM evacuate_objects
      WHERE job_id = $1 AND ${curableWhere} AND id > $5 ORDER BY id LIMIT $6`,
    [jobId, CURABLE_SKIP_REASONS, CURABLE_ERRORS, round, afterId ?? '', limit],
  );
  return rows.map(toStored);
}

/** The number of the job's curable objects not yet taken by `round`. */
export async function countCurable(db: Queryable, jobId: string, round: number): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM evacuate_objects WHERE job_id = $1 AND ${curableWhere}`,
    [jobId, CURABLE_SKIP_REASONS, CURABLE_ERRORS, round],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The terminal state an object leaves, as the counters name it. */
function leave(deltas: CountDeltas, from: StoredObject): void {
  if (from.skippedReason !== undefined) deltas.add('skip', from.skippedReason, -1);
  if (from.error !== undefined) deltas.add('error', from.error, -1);
}

/**
 * Applies a round's changes in one transaction. Each row changes only if it is still in the
 * terminal state it was read in (a second manager, or a resumed round, finds it changed).
 */
export async function applyConvergence(
  db: Database,
  jobId: string,
  round: number,
  changes: readonly ConvergeChange[],
): Promise<ConvergeApplied> {
  const applied: ConvergeApplied = { reopened: 0, settled: 0, rewritten: 0, successors: 0 };
  if (changes.length === 0) return applied;
  return db.transaction(async (tx) => {
    const deltas = new CountDeltas();
    for (const change of changes) {
      const from = change.from;
      const to: { status: ObjectStatus; reason: SkipReasonDb | null; error: string | null } =
        change.kind === 'reopen'
          ? { status: 'unprocessed', reason: null, error: null }
          : change.kind === 'rewritten'
            ? { status: 'skipped', reason: 'object_rewritten', error: null }
            : change.to.status === 'skipped'
              ? { status: 'skipped', reason: change.to.reason, error: null }
              : { status: 'error', reason: null, error: change.to.error };
      const reopen = change.kind === 'reopen';
      const { rows } = await tx.query<{ tier: string; bytes: string }>(
        `UPDATE evacuate_objects
            SET status = $3, skipped_reason = $4, error = $5, error_detail = $6,
                etag = CASE WHEN $7::boolean THEN $8 ELSE etag END,
                object = CASE WHEN $7::boolean THEN $9::jsonb ELSE object END,
                assignment_id = CASE WHEN $7::boolean THEN NULL ELSE assignment_id END,
                dest_shark = CASE WHEN $7::boolean THEN NULL ELSE dest_shark END,
                converge_round = $10, updated_at = now()
          WHERE job_id = $1 AND id = $2 AND status = $11
            AND skipped_reason IS NOT DISTINCT FROM $12 AND error IS NOT DISTINCT FROM $13
          RETURNING tier, ${ROW_BYTES} AS bytes`,
        [
          jobId,
          from.id,
          to.status,
          to.reason,
          to.error,
          change.kind === 'settle' ? (change.detail ?? null) : null,
          reopen,
          reopen ? change.etag : null,
          reopen ? recordText(change.object) : null,
          round,
          from.status,
          from.skippedReason ?? null,
          from.error ?? null,
        ],
      );
      const row = rows[0];
      if (row === undefined) continue;
      deltas.moved(from.status, to.status, [movedRow(row)]);
      leave(deltas, from);
      if (to.reason !== null) deltas.add('skip', to.reason, 1);
      if (to.error !== null) deltas.add('error', to.error, 1);
      if (change.kind === 'reopen') applied.reopened++;
      else if (change.kind === 'settle') applied.settled++;
      else {
        applied.rewritten++;
        if (
          change.successor &&
          (await insertSuccessor(tx, jobId, round, change.successor, from.id))
        ) {
          applied.successors++;
          deltas.moved(undefined, 'unprocessed', [
            {
              tier: tierOfObject(change.successor),
              bytes: change.successor.object?.contentLength ?? 0,
            },
          ]);
        }
      }
    }
    await deltas.apply(tx, jobId);
    return applied;
  });
}

async function insertSuccessor(
  tx: Queryable,
  jobId: string,
  round: number,
  o: RecordedObject,
  replaces: string,
): Promise<boolean> {
  const { rows } = await tx.query(
    `INSERT INTO evacuate_objects
       (job_id, id, key, shard, etag, object, status, tier, converge_round, replaces)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'unprocessed', $7, $8, $9)
     ON CONFLICT (job_id, id) DO NOTHING RETURNING id`,
    [jobId, o.id, o.key, o.shard, o.etag, recordText(o.object), tierOfObject(o), round, replaces],
  );
  return rows.length > 0;
}

/** What the objects a round touched are now, by status and reason. */
export interface RoundOutcome {
  status: ObjectStatus;
  /** The skip reason or error, when there is one. */
  reason: string | undefined;
  /** A new version the round took in place of one its user rewrote. */
  successor: boolean;
  count: number;
}

export async function roundOutcome(
  db: Queryable,
  jobId: string,
  round: number,
): Promise<RoundOutcome[]> {
  const { rows } = await db.query<{
    status: string;
    reason: string | null;
    successor: boolean;
    n: string;
  }>(
    // A new version is new only in the round that took it (the one its predecessor was
    // rewritten in); a later round that retries it counts it as retried.
    `SELECT o.status, coalesce(o.skipped_reason, o.error) AS reason,
            (p.converge_round IS NOT DISTINCT FROM o.converge_round) AS successor, count(*) AS n
       FROM evacuate_objects o
       LEFT JOIN evacuate_objects p ON p.job_id = o.job_id AND p.id = o.replaces
      WHERE o.job_id = $1 AND o.converge_round = $2
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [jobId, round],
  );
  return rows.map((r) => ({
    status: parseObjectStatus(r.status),
    reason: r.reason ?? undefined,
    successor: r.successor,
    count: Number(r.n),
  }));
}

/** The highest round that touched an object of the job (0: none). */
export async function lastRound(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: number | null }>(
    'SELECT max(converge_round) AS n FROM evacuate_objects WHERE job_id = $1',
    [jobId],
  );
  return Number(rows[0]?.n ?? 0);
}
