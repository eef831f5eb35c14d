/**
 * Per-job counters for `GET /jobs/{uuid}` (manager.md §2.4), kept exact by updating them in the
 * same transaction as each status change, so reading them never scans the objects (§13.7).
 */
import type { Queryable } from '../../db/index.ts';

/**
 * `buckets_status` counts the buckets (v2) objects per status, apart: the totals are
 * `status`, so a job without v2 objects writes nothing more (v1 = total − v2).
 * `bytes_status` sums the objects' bytes per status (progress in bytes).
 */
export type CountBucket =
  | 'status'
  | 'error'
  | 'skip'
  | 'duplicates'
  | 'buckets_status'
  | 'bytes_status';

/** Objects changing status: each one's tier and bytes. */
export interface MovedObject {
  tier: string;
  bytes: number;
}

/**
 * An object row's bytes in SQL (its record's `contentLength`); 0 for a row without a usable
 * record, so a malformed one can never fail the statement counting it.
 */
export const ROW_BYTES = `CASE WHEN jsonb_typeof(object -> 'contentLength') = 'number'
  THEN greatest(0, (object ->> 'contentLength')::numeric)::bigint ELSE 0 END`;

/** A row RETURNING `tier` and `bytes` (ROW_BYTES) as an object changing status. */
export function movedRow(r: { tier: string; bytes: string | number }): MovedObject {
  return { tier: r.tier, bytes: Number(r.bytes) };
}

/** Accumulates counter changes to apply in one statement. */
export class CountDeltas {
  private readonly deltas = new Map<string, { bucket: CountBucket; name: string; n: number }>();

  add(bucket: CountBucket, name: string, n: number): this {
    if (n === 0) return this;
    const key = `${bucket}\u0000${name}`;
    const entry = this.deltas.get(key);
    if (entry) entry.n += n;
    else this.deltas.set(key, { bucket, name, n });
    return this;
  }

  /** `objects` moved from status `from` (none: new) to `to`. */
  moved(from: string | undefined, to: string, objects: readonly MovedObject[]): this {
    let v2 = 0;
    let bytes = 0;
    for (const o of objects) {
      if (o.tier === 'buckets') v2++;
      bytes += o.bytes;
    }
    if (from !== undefined) {
      this.add('status', from, -objects.length)
        .add('buckets_status', from, -v2)
        .add('bytes_status', from, -bytes);
    }
    return this.add('status', to, objects.length)
      .add('buckets_status', to, v2)
      .add('bytes_status', to, bytes);
  }

  get size(): number {
    return this.deltas.size;
  }

  /**
   * Upserts every non-zero delta. Rows are touched in a fixed (sorted) order so that
   * concurrent transactions lock them in the same order and cannot deadlock.
   */
  async apply(tx: Queryable, jobId: string): Promise<void> {
    const entries = [...this.deltas.entries()]
      .filter(([, e]) => e.n !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e);
    if (entries.length === 0) return;
    await tx.query(
      `INSERT INTO job_counts (job_id, bucket, name, count)
       SELECT $1, t.bucket, t.name, t.n
         FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS t(bucket, name, n, ord)
        ORDER BY t.ord
       ON CONFLICT (job_id, bucket, name) DO UPDATE SET count = job_counts.count + EXCLUDED.count`,
      [jobId, entries.map((e) => e.bucket), entries.map((e) => e.name), entries.map((e) => e.n)],
    );
  }
}

export interface CountRow {
  bucket: CountBucket;
  name: string;
  count: number;
}

export async function readCounts(db: Queryable, jobId: string): Promise<CountRow[]> {
  const { rows } = await db.query<{ bucket: CountBucket; name: string; count: string }>(
    'SELECT bucket, name, count FROM job_counts WHERE job_id = $1',
    [jobId],
  );
  return rows.map((r) => ({ bucket: r.bucket, name: r.name, count: Number(r.count) }));
}
