/**
 * A status change of objects as ONE statement: the UPDATE of the rows and the upsert of the
 * job's counters in one data-modifying CTE. A statement commits whole or not at all, so the
 * counters stay exact as in a transaction, at one round trip instead of four (BEGIN, UPDATE,
 * counters, COMMIT): the store's round trips were most of the manager's cost per object
 * (issue 18's profiles).
 */
import type { Queryable, Row } from '../../db/index.ts';
import { RebalancerError } from '../../errors.ts';

export interface CountedMove {
  /**
   * `UPDATE evacuate_objects ... RETURNING id, tier, <ROW_BYTES> AS bytes` (more columns may
   * follow), with `$1..$n` placeholders for `params`.
   */
  update: string;
  params: readonly unknown[];
  /** The status the rows leave, and the one they enter: never the same. */
  from: string;
  to: string;
  /** Counted under `skip` / `error` too, when set. */
  skip?: string | null;
  error?: string | null;
  /**
   * More CTEs after the counters' (they may read `moved` and `totals`: n, v2, bytes), and the
   * statement's own SELECT (default: the ids moved).
   */
  ctes?: readonly string[];
  select?: string;
  /** A prepared statement name: one name per statement text. */
  name?: string;
}

/** A move into the status it leaves: a caller's bug, refused before it reaches the store. */
export class SameStatusMoveError extends RebalancerError {
  override readonly name = 'SameStatusMoveError';
  readonly code = 'same_status_move';
}

/**
 * The deltas are upserted in (bucket, name) byte order, as CountDeltas.apply does, so that
 * concurrent statements and transactions lock counter rows in one order and cannot deadlock.
 */
export async function moveCounted<R extends Row = { id: string }>(
  db: Queryable,
  jobId: string,
  move: CountedMove,
): Promise<R[]> {
  // Entering the status left would upsert one counter row twice in one statement.
  if (move.from === move.to) throw new SameStatusMoveError(`objects moved ${move.from} to itself`);
  const n = move.params.length;
  const [job, from, to, skip, error] = [1, 2, 3, 4, 5].map((i) => `$${n + i}`);
  const text = `WITH moved AS (${move.update}),
  totals AS (
    SELECT count(*)::bigint AS n,
           (count(*) FILTER (WHERE tier = 'buckets'))::bigint AS v2,
           coalesce(sum(bytes), 0)::bigint AS bytes
      FROM moved),
  counted AS (
    INSERT INTO job_counts (job_id, bucket, name, count)
    SELECT ${job}::uuid, d.bucket, d.name, d.n
      FROM totals, LATERAL (VALUES
        ('status', ${from}::text, -totals.n), ('buckets_status', ${from}::text, -totals.v2),
        ('bytes_status', ${from}::text, -totals.bytes), ('status', ${to}::text, totals.n),
        ('buckets_status', ${to}::text, totals.v2), ('bytes_status', ${to}::text, totals.bytes),
        ('skip', ${skip}::text, totals.n), ('error', ${error}::text, totals.n)
      ) AS d(bucket, name, n)
     WHERE d.name IS NOT NULL AND d.n <> 0
     ORDER BY d.bucket COLLATE "C", d.name COLLATE "C"
    ON CONFLICT (job_id, bucket, name) DO UPDATE SET count = job_counts.count + EXCLUDED.count
  )${(move.ctes ?? []).map((c) => `,\n  ${c}`).join('')}
${move.select ?? 'SELECT id FROM moved'}`;
  const params = [...move.params, jobId, move.from, move.to, move.skip ?? null, move.error ?? null];
  const { rows } = await db.query<R>(text, params, move.name ? { name: move.name } : undefined);
  return rows;
}
