/**
 * The safe-to-remove audits (issue 16): one `audits` row per job with its counts and verdict,
 * a row per unsafe object, and a cursor per shard. A batch of classified objects is written
 * with the cursor that covers it in one transaction, so a resumed audit counts every object
 * exactly once. Rows are checked when read back (the database is a boundary).
 */
import {
  AUDIT_STATES,
  type AuditState,
  UNSAFE_REASONS,
  type UnsafeReason,
} from '../../api/audit.ts';
import type { Database, Queryable } from '../../db/index.ts';
import { type MetadataTier, parseTier, UnknownStoredValueError } from './enums.ts';

export interface AuditRecord {
  jobId: string;
  shark: string;
  deep: boolean;
  state: AuditState;
  scanned: { v1: number; v2: number };
  safe: number;
  unsafe: Record<UnsafeReason, number>;
  /** Set when the audit completed. */
  verdict: 'safe' | 'unsafe' | undefined;
  error: string | undefined;
  startedAt: Date;
  finishedAt: Date | undefined;
}

/** One object of the shark and what the audit made of it. */
export interface AuditedObject {
  key: string;
  tier: MetadataTier;
  shard: number;
  /** Undefined for a record that could not be read. */
  objectId: string | undefined;
  outcome: 'safe' | UnsafeReason;
}

/** Where an audit's scan of one shard (of a tier) is: its discovery cursor. */
export interface AuditCursor {
  tier: MetadataTier;
  shard: number;
  cursor: string;
}

interface AuditRow extends Record<string, unknown> {
  job_id: string;
  shark: string;
  deep: boolean;
  state: string;
  scanned_v1: string;
  scanned_v2: string;
  safe: string;
  only_copy: string;
  other_copies_missing: string;
  other_copies_unverified: string;
  unreadable_record: string;
  verdict: string | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

const COLUMNS = `job_id, shark, deep, state, scanned_v1, scanned_v2, safe, ${UNSAFE_REASONS.join(', ')},
  verdict, error, started_at, finished_at`;

const STATES: ReadonlySet<string> = new Set(AUDIT_STATES);
const REASONS: ReadonlySet<string> = new Set(UNSAFE_REASONS);

function toRecord(row: AuditRow): AuditRecord {
  if (!STATES.has(row.state)) throw new UnknownStoredValueError('audit state', row.state);
  if (row.verdict !== null && row.verdict !== 'safe' && row.verdict !== 'unsafe') {
    throw new UnknownStoredValueError('audit verdict', row.verdict);
  }
  return {
    jobId: row.job_id,
    shark: row.shark,
    deep: row.deep,
    state: row.state as AuditState,
    scanned: { v1: Number(row.scanned_v1), v2: Number(row.scanned_v2) },
    safe: Number(row.safe),
    unsafe: {
      only_copy: Number(row.only_copy),
      other_copies_missing: Number(row.other_copies_missing),
      other_copies_unverified: Number(row.other_copies_unverified),
      unreadable_record: Number(row.unreadable_record),
    },
    verdict: row.verdict ?? undefined,
    error: row.error ?? undefined,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? undefined,
  };
}

/**
 * The job's audit, started now or, when it has one not complete, resumed (running again, its
 * counts and cursors kept); a complete one is returned as it is.
 */
export async function startAudit(
  db: Queryable,
  audit: { jobId: string; shark: string; deep: boolean },
): Promise<AuditRecord> {
  const { rows } = await db.query<AuditRow>(
    `INSERT INTO audits (job_id, shark, deep, state) VALUES ($1, $2, $3, 'running')
     ON CONFLICT (job_id) DO UPDATE SET state = 'running', error = NULL
       WHERE audits.state <> 'complete'
     RETURNING ${COLUMNS}`,
    [audit.jobId, audit.shark, audit.deep],
  );
  if (rows[0] !== undefined) return toRecord(rows[0]);
  const complete = await getAudit(db, audit.jobId);
  if (!complete) throw new UnknownStoredValueError('audit', audit.jobId);
  return complete;
}

export async function getAudit(db: Queryable, jobId: string): Promise<AuditRecord | undefined> {
  const { rows } = await db.query<AuditRow>(`SELECT ${COLUMNS} FROM audits WHERE job_id = $1`, [
    jobId,
  ]);
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/** The shark's newest complete audit: what a deletion must find `safe` before it starts. */
export async function latestAuditOf(
  db: Queryable,
  shark: string,
): Promise<AuditRecord | undefined> {
  const { rows } = await db.query<AuditRow>(
    `SELECT ${COLUMNS} FROM audits WHERE shark = $1 AND state = 'complete'
      ORDER BY finished_at DESC, started_at DESC LIMIT 1`,
    [shark],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/** The shark's newest audit, whatever its state. */
export async function newestAuditOf(
  db: Queryable,
  shark: string,
): Promise<AuditRecord | undefined> {
  const { rows } = await db.query<AuditRow>(
    `SELECT ${COLUMNS} FROM audits WHERE shark = $1 ORDER BY started_at DESC, job_id LIMIT 1`,
    [shark],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

export async function auditCursors(db: Queryable, jobId: string): Promise<AuditCursor[]> {
  const { rows } = await db.query<{ tier: string; shard: number; cursor: string }>(
    'SELECT tier, shard, cursor FROM audit_checkpoints WHERE job_id = $1 ORDER BY tier, shard',
    [jobId],
  );
  return rows.map((r) => ({ tier: parseTier(r.tier), shard: r.shard, cursor: r.cursor }));
}

/**
 * Counts `objects` and lists the unsafe ones, and moves the shard's cursor, in one transaction.
 * An unsafe object already listed (the same record seen twice) is not counted again.
 */
export async function recordAudited(
  db: Database,
  jobId: string,
  objects: readonly AuditedObject[],
  cursor?: AuditCursor,
): Promise<void> {
  await db.transaction((tx) => record(tx, jobId, objects, cursor));
}

async function record(
  tx: Queryable,
  jobId: string,
  objects: readonly AuditedObject[],
  cursor?: AuditCursor,
): Promise<void> {
  const unsafe = objects.filter((o) => o.outcome !== 'safe');
  const listed =
    unsafe.length === 0
      ? []
      : (
          await tx.query<{ tier: string; reason: string }>(
            `INSERT INTO audit_unsafe_objects (job_id, key, tier, shard, object_id, reason)
             SELECT $1, t.key, t.tier, t.shard, t.object_id, t.reason
               FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
                    AS t(key, tier, shard, object_id, reason)
             ON CONFLICT DO NOTHING
             RETURNING tier, reason`,
            [
              jobId,
              unsafe.map((o) => o.key),
              unsafe.map((o) => o.tier),
              unsafe.map((o) => o.shard),
              unsafe.map((o) => o.objectId ?? ''),
              unsafe.map((o) => o.outcome),
            ],
          )
        ).rows;
  const safe = objects.filter((o) => o.outcome === 'safe');
  const counted = [...safe.map((o) => o.tier), ...listed.map((r) => r.tier)];
  const byReason = Object.fromEntries(UNSAFE_REASONS.map((r) => [r, 0])) as Record<
    UnsafeReason,
    number
  >;
  for (const r of listed) byReason[r.reason as UnsafeReason]++;
  await tx.query(
    `UPDATE audits SET scanned_v1 = scanned_v1 + $2, scanned_v2 = scanned_v2 + $3,
            safe = safe + $4, ${UNSAFE_REASONS.map((r, i) => `${r} = ${r} + $${i + 5}`).join(', ')}
      WHERE job_id = $1`,
    [
      jobId,
      counted.filter((t) => t === 'moray').length,
      counted.filter((t) => t === 'buckets').length,
      safe.length,
      ...UNSAFE_REASONS.map((r) => byReason[r]),
    ],
  );
  if (cursor) {
    await tx.query(
      `INSERT INTO audit_checkpoints (job_id, tier, shard, cursor) VALUES ($1, $2, $3, $4)
       ON CONFLICT (job_id, tier, shard)
         DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`,
      [jobId, cursor.tier, cursor.shard, cursor.cursor],
    );
  }
}

/**
 * Ends a running audit: `complete` with its verdict (safe only when no object is unsafe),
 * counting `last` — the objects no cursor covers — in the same transaction, so an audit
 * counted them only once it is complete; `cancelled` or `failed` (with why) without a verdict.
 * Undefined when it was not running.
 */
export async function finishAudit(
  db: Database,
  jobId: string,
  end:
    | { state: 'complete'; last?: readonly AuditedObject[] }
    | { state: 'cancelled' | 'failed'; error: string },
): Promise<AuditRecord | undefined> {
  const anyUnsafe = UNSAFE_REASONS.map((r) => `${r} > 0`).join(' OR ');
  return db.transaction(async (tx) => {
    const running = await tx.query(
      `SELECT 1 FROM audits WHERE job_id = $1 AND state = 'running' FOR UPDATE`,
      [jobId],
    );
    if (running.rowCount === 0) return undefined;
    if (end.state === 'complete' && end.last !== undefined && end.last.length > 0) {
      await record(tx, jobId, end.last);
    }
    const { rows } = await tx.query<AuditRow>(
      `UPDATE audits SET state = $2, error = $3, finished_at = now(),
              verdict = CASE WHEN $2 <> 'complete' THEN NULL
                             WHEN ${anyUnsafe} THEN 'unsafe' ELSE 'safe' END
        WHERE job_id = $1
        RETURNING ${COLUMNS}`,
      [jobId, end.state, end.state === 'complete' ? null : end.error],
    );
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  });
}

/**
 * A page of the audit's unsafe objects in key order, after key `after`. A page never splits
 * one key's rows (a key may be on two tiers), so it may hold a few more than `limit`.
 */
export async function unsafeObjects(
  db: Queryable,
  jobId: string,
  after: string | undefined,
  limit: number,
): Promise<AuditedObject[]> {
  const select = `SELECT key, tier, shard, object_id, reason FROM audit_unsafe_objects`;
  const order = 'ORDER BY key, tier, shard, object_id';
  const { rows } = await db.query<UnsafeRow>(
    `${select} WHERE job_id = $1 AND ($2::text IS NULL OR key > $2) ${order} LIMIT $3`,
    [jobId, after ?? null, limit],
  );
  const last = rows.at(-1);
  if (last === undefined || rows.length < limit) return rows.map(toAudited);
  const rest = await db.query<UnsafeRow>(`${select} WHERE job_id = $1 AND key = $2 ${order}`, [
    jobId,
    last.key,
  ]);
  return [...rows.filter((r) => r.key !== last.key), ...rest.rows].map(toAudited);
}

interface UnsafeRow extends Record<string, unknown> {
  key: string;
  tier: string;
  shard: number;
  object_id: string;
  reason: string;
}

function toAudited(row: UnsafeRow): AuditedObject {
  if (!REASONS.has(row.reason)) throw new UnknownStoredValueError('unsafe reason', row.reason);
  return {
    key: row.key,
    tier: parseTier(row.tier),
    shard: row.shard,
    objectId: row.object_id === '' ? undefined : row.object_id,
    outcome: row.reason as UnsafeReason,
  };
}
