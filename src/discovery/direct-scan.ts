/**
 * Direct-DB mode (protocols.md §5.4, manager.md §9.2): read one shard's `manta` table straight
 * from its PostgreSQL (a pgclone in production) with one streaming query per id column,
 * through a server-side cursor.
 *
 * Unlike sharkspotter, rows come in id order so that progress can be checkpointed and a
 * failed stream resumed after the last row processed (no duplicate, no gap); a malformed row
 * is reported and the scan goes on (sharkspotter aborted the shard); rows whose id lives in
 * `_idx` (older migrated tables) are scanned too.
 */
import { RetriesExhaustedError, sleep } from '../async/index.ts';
import { interpretRow, type RowContext, rowIdOf } from './record.ts';
import type { RetryPolicy } from './retry.ts';
import {
  type DiscoveryEvent,
  DiscoveryShardError,
  type IdColumn,
  type StreamingDatabase,
} from './types.ts';

export interface DirectScanOptions {
  readonly shard: number;
  readonly db: StreamingDatabase;
  readonly column: IdColumn;
  /** Rows per FETCH, and rows between checkpoints. */
  readonly batchSize: number;
  readonly after: bigint | undefined;
  readonly retry: RetryPolicy;
  readonly row: Omit<RowContext, 'column' | 'shard'>;
  readonly signal: AbortSignal;
  readonly onRetry: (err: unknown, attempt: number, window: string) => void;
  readonly onRows: (rows: number) => void;
}

/** Whether the shard's `manta` table has an `_idx` column. */
export async function hasIdxColumn(db: StreamingDatabase): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM pg_attribute
      WHERE attrelid = to_regclass('manta') AND attname = '_idx' AND NOT attisdropped`,
  );
  return rows.length > 0;
}

function statement(column: IdColumn, resume: boolean): string {
  const cols = column === '_id' ? '_id, _key, _value, _etag' : '_id, _idx, _key, _value, _etag';
  const where = [`type = 'object'`];
  if (column === '_idx') where.push('_id IS NULL', '_idx IS NOT NULL');
  if (resume) where.push(`${column} > $1`);
  else if (column === '_id') where.push('_id IS NOT NULL');
  return `SELECT ${cols} FROM manta WHERE ${where.join(' AND ')} ORDER BY ${column}`;
}

export async function* scanDirectColumn(o: DirectScanOptions): AsyncGenerator<DiscoveryEvent> {
  const ctx: RowContext = { ...o.row, shard: o.shard, column: o.column };
  /** Last row fully handled; a retry resumes after it. */
  let last = o.after;
  let attempt = 0;
  for (;;) {
    o.signal.throwIfAborted();
    const resume = last !== undefined;
    const sql = statement(o.column, resume);
    const params = resume ? [last?.toString()] : [];
    let sinceCheckpoint = 0;
    try {
      for await (const row of o.db.stream(sql, params, { batchSize: o.batchSize })) {
        const id = rowIdOf(row, o.column);
        const outcome = interpretRow(row, ctx);
        if (outcome) yield outcome;
        if (id !== undefined) last = BigInt(id);
        attempt = 0; // progress was made: the retry budget applies to the next failure anew
        if (++sinceCheckpoint >= o.batchSize) {
          o.onRows(sinceCheckpoint);
          sinceCheckpoint = 0;
          yield checkpoint(o, last, false);
          o.signal.throwIfAborted();
        }
      }
      o.onRows(sinceCheckpoint);
      yield checkpoint(o, last, true);
      return;
    } catch (err) {
      if (o.signal.aborted) throw err;
      attempt++;
      if (attempt > o.retry.retries) {
        const from = last === undefined ? 'from the start' : `> ${last}`;
        throw new DiscoveryShardError(
          o.shard,
          o.column,
          { from, to: undefined },
          attempt,
          err instanceof RetriesExhaustedError ? err.lastError : err,
        );
      }
      o.onRetry(err, attempt, `${o.column} > ${last ?? 'start'}`);
      await sleep(o.retry.delay(attempt), o.signal);
    }
  }
}

function checkpoint(o: DirectScanOptions, through: bigint | undefined, done: boolean) {
  return {
    kind: 'checkpoint' as const,
    shard: o.shard,
    column: o.column,
    through: through?.toString(),
    done,
  };
}
