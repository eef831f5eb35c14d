/**
 * The `job_progress_samples` table: a job's settled objects and bytes every few seconds of its
 * life (src/manager/jobs/history.ts writes them), for the console's progress chart.
 */
import type { Queryable } from '../../db/index.ts';
import { UnknownStoredValueError } from './enums.ts';
import { storedCount } from './numbers.ts';

export interface ProgressSample {
  at: Date;
  objectsDone: number;
  bytesDone: number;
}

/** Records a sample; one at the same instant is replaced (the later reading wins). */
export async function recordProgressSample(
  db: Queryable,
  jobId: string,
  sample: ProgressSample,
): Promise<void> {
  await db.query(
    `INSERT INTO job_progress_samples (job_id, at, objects_done, bytes_done)
     VALUES ($1, $2::timestamptz, $3, $4)
     ON CONFLICT (job_id, at) DO UPDATE
       SET objects_done = EXCLUDED.objects_done, bytes_done = EXCLUDED.bytes_done`,
    [jobId, sample.at.toISOString(), sample.objectsDone, sample.bytesDone],
  );
}

/**
 * The job's samples oldest first, at most `points` (>= 2) of them: when it has more, those at
 * evenly spaced positions, the first and the last always among them. Picked in the database,
 * so a week-long job's tens of thousands of rows never reach this process.
 */
export async function progressSamples(
  db: Queryable,
  jobId: string,
  points: number,
): Promise<ProgressSample[]> {
  if (!Number.isInteger(points) || points < 2) {
    throw new RangeError(`points must be an integer >= 2: ${points}`);
  }
  const { rows } = await db.query<{ at: unknown; objects_done: unknown; bytes_done: unknown }>(
    `WITH s AS (
       SELECT at, objects_done, bytes_done, row_number() OVER (ORDER BY at) - 1 AS i
         FROM job_progress_samples WHERE job_id = $1
     ), n AS (SELECT count(*) AS n FROM s),
     pick AS (
       -- Position k of the points kept maps to row round(k (n-1) / (points-1)): 0 and n-1 included.
       SELECT DISTINCT CASE WHEN n.n <= $2 THEN g
                            ELSE round(g * (n.n - 1)::numeric / ($2::integer - 1)) END AS i
         FROM n, generate_series(0, LEAST(n.n, $2::integer) - 1) AS g
     )
     SELECT s.at, s.objects_done, s.bytes_done FROM s JOIN pick USING (i) ORDER BY s.at`,
    [jobId, points],
  );
  return rows.map((r) => {
    if (!(r.at instanceof Date)) throw new UnknownStoredValueError('progress sample at', r.at);
    return {
      at: r.at,
      objectsDone: storedCount(r.objects_done, 'progress sample objects_done'),
      bytesDone: storedCount(r.bytes_done, 'progress sample bytes_done'),
    };
  });
}
