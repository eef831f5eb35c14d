/**
 * Why each object still on the evacuated shark is there, by what the manager recorded. The
 * manager's API has no per-object listing, so this checker reads the manager's store
 * (`evacuate_objects` in its PostgreSQL database) directly, read-only: for each key, the row
 * of the latest job of the chain (job, retry, retry of the retry ...) that saw it.
 */
import pg from 'pg';
import type { ObjectState } from '../verify.ts';

/** Outcomes no retry can change: the object cannot move, whatever is tried again. */
export const INCURABLE_REASONS: ReadonlySet<string> = new Set([
  'source_is_evac_shark',
  'object_already_in_datacenter',
  'excluded_key_prefix',
  // A bad record: retrying reads the same bad record.
  'bad_moray_object',
  'bad_manta_object',
  'bad_shard_number',
  'bad_content_length',
  'duplicate_shark',
  'missing_sharks',
]);

/** Outcomes that are right when the user changed or deleted the object during the job. */
export const USER_CHANGE_REASONS: ReadonlySet<string> = new Set([
  'metadata_etag_mismatch',
  'metadata_object_not_found',
  'moray_etag_mismatch',
  'moray_object_not_found',
  'mdapi_etag_mismatch',
  'mdapi_object_not_found',
]);

/** Label of an object the manager has no row of. */
export const UNACCOUNTED = 'unaccounted';

export interface Leftover {
  key: string;
  /** The skip reason or error the manager recorded, `status:<s>` for another status, or unaccounted. */
  reason: string;
  /** The job of the row it comes from. */
  jobId?: string;
  /** True when a retry could have moved it: a target miss. */
  curable: boolean;
}

interface ObjectRow {
  job_id: string;
  id: string;
  key: string;
  status: string;
  skipped_reason: string | null;
  error: string | null;
}

/**
 * The leftovers among `still` (objects that name the evacuated shark now), each with the reason
 * the manager recorded in the jobs `chain` (oldest first); `userChanged` holds the keys the user
 * wrote or deleted during the job.
 */
export async function accountLeftovers(
  managerDatabaseUrl: string,
  chain: readonly string[],
  still: readonly ObjectState[],
  userChanged: ReadonlySet<string>,
): Promise<Leftover[]> {
  if (still.length === 0) return [];
  const client = new pg.Client({ connectionString: managerDatabaseUrl });
  await client.connect();
  let rows: ObjectRow[];
  try {
    ({ rows } = await client.query<ObjectRow>(
      `SELECT job_id::text AS job_id, id, key, status, skipped_reason, error
         FROM evacuate_objects WHERE job_id = ANY($1::uuid[]) AND key = ANY($2::text[])`,
      [chain, still.map((o) => o.key)],
    ));
  } finally {
    await client.end();
  }
  const order = new Map(chain.map((id, i) => [id, i]));
  const latest = new Map<string, ObjectRow>();
  const live = new Map(still.map((o) => [o.key, o.objectId]));
  const rank = (r: ObjectRow) =>
    (order.get(r.job_id) ?? -1) * 2 + (r.id === live.get(r.key) ? 1 : 0);
  for (const row of rows) {
    const seen = latest.get(row.key);
    if (!seen || rank(row) > rank(seen)) latest.set(row.key, row);
  }
  return still.map((object) => {
    const row = latest.get(object.key);
    if (!row) return { key: object.key, reason: UNACCOUNTED, curable: true };
    const reason =
      row.status === 'skipped'
        ? (row.skipped_reason ?? 'skipped')
        : row.status === 'error'
          ? (row.error ?? 'error')
          : `status:${row.status}`;
    const curable = !(
      INCURABLE_REASONS.has(reason) ||
      (USER_CHANGE_REASONS.has(reason) && userChanged.has(object.key))
    );
    return { key: object.key, reason, jobId: row.job_id, curable };
  });
}
