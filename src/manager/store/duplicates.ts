/**
 * Duplicates (manager.md §4.11): records that share an objectId with the object a job moves —
 * snaplinks, or metadata duplicated across shards. L counted them and left them naming the
 * evacuated shark; here each is rewritten once its object's copy landed (issue 12 #8), with its
 * own etag, and ends `complete` or `skipped` with a reason an operator can list.
 */
import type { Database, Queryable } from '../../db/index.ts';
import type { MantaObjectValue } from '../../manta/index.ts';
import { UnknownStoredValueError } from './enums.ts';
import { requiredRecord, storedRecord } from './records.ts';

export type DuplicateStatus = 'pending' | 'complete' | 'skipped';

export interface DuplicateRecord {
  /** The shared objectId. */
  id: string;
  key: string;
  shard: number;
  etag: string;
  /** Undefined when there is none usable (the record was recorded without it). */
  object: MantaObjectValue | undefined;
  status: DuplicateStatus;
  reason: string | undefined;
}

/** A pending duplicate whose object was moved: where its copy now is. */
export interface DuplicateToRewrite extends DuplicateRecord {
  /** The moved object's record as the job found it (its identity to compare with). */
  primary: MantaObjectValue;
  destShark: string;
  destDatacenter: string;
}

interface Row extends Record<string, unknown> {
  id: string;
  key: string;
  shard: number;
  etag: string;
  object: unknown;
  status: string;
  reason: string | null;
}

function toRecord(r: Row): DuplicateRecord {
  const status = r.status;
  if (status !== 'pending' && status !== 'complete' && status !== 'skipped') {
    throw new UnknownStoredValueError('duplicates.status', status);
  }
  return {
    id: r.id,
    key: r.key,
    shard: r.shard,
    etag: r.etag,
    object: storedRecord(r.object),
    status,
    reason: r.reason ?? undefined,
  };
}

/** Up to `limit` pending duplicates whose object is complete (each leaves pending when done). */
export async function duplicatesToRewrite(
  db: Queryable,
  jobId: string,
  limit: number,
): Promise<DuplicateToRewrite[]> {
  const { rows } = await db.query<
    Row & { primary: unknown; dest_shark: string; dest_datacenter: string }
  >(
    `SELECT d.id, d.key, d.shard, d.etag, d.object, d.status, d.reason,
            o.object AS primary, a.dest_shark, a.dest_datacenter
       FROM duplicates d
       JOIN evacuate_objects o ON o.job_id = d.job_id AND o.id = d.id
       JOIN assignments a ON a.id = o.assignment_id
      WHERE d.job_id = $1 AND d.status = 'pending' AND o.status = 'complete'
      ORDER BY d.id, d.key, d.shard
      LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({
    ...toRecord(r),
    primary: requiredRecord(r.primary, `evacuate_objects ${r.id}`),
    destShark: r.dest_shark,
    destDatacenter: r.dest_datacenter,
  }));
}

export async function settleDuplicate(
  db: Queryable,
  jobId: string,
  d: { id: string; key: string; shard: number },
  status: Exclude<DuplicateStatus, 'pending'>,
  reason?: string,
): Promise<void> {
  await db.query(
    `UPDATE duplicates SET status = $5, reason = $6, updated_at = now()
      WHERE job_id = $1 AND id = $2 AND key = $3 AND shard = $4 AND status = 'pending'`,
    [jobId, d.id, d.key, d.shard, status, reason ?? null],
  );
}

/**
 * Pending duplicates whose object did not move end skipped with the object's reason, so that
 * every record the job found is accounted for. Returns how many.
 */
export async function skipUnmovedDuplicates(db: Database, jobId: string): Promise<number> {
  const { rows } = await db.query(
    `UPDATE duplicates d
        SET status = 'skipped', updated_at = now(),
            reason = COALESCE(o.skipped_reason, o.error, 'object ' || o.status)
       FROM evacuate_objects o
      WHERE d.job_id = $1 AND d.status = 'pending' AND o.job_id = d.job_id AND o.id = d.id
        AND o.status IN ('skipped', 'error')
      RETURNING d.id`,
    [jobId],
  );
  return rows.length;
}

/** A page of a job's duplicates, ordered by (id, key, shard), after the given one. */
export async function listDuplicates(
  db: Queryable,
  jobId: string,
  after: { id: string; key: string; shard: number } | undefined,
  limit: number,
): Promise<DuplicateRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT id, key, shard, etag, object, status, reason FROM duplicates
      WHERE job_id = $1 AND (id, key, shard) > ($2, $3, $4)
      ORDER BY id, key, shard LIMIT $5`,
    [jobId, after?.id ?? '', after?.key ?? '', after?.shard ?? -2147483648, limit],
  );
  return rows.map(toRecord);
}
