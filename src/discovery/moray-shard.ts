/**
 * One Moray shard's scan: its `_id` column, then its `_idx` column (older migrated tables),
 * each resumed from its checkpoint, through the `sql` RPC (moray mode) or straight from the
 * shard's PostgreSQL (direct-db mode).
 */
import { RetriesExhaustedError, retry } from '../async/index.ts';
import { hasIdxColumn, scanDirectColumn } from './direct-scan.ts';
import { scanMorayColumn } from './moray-scan.ts';
import type { RowContext } from './record.ts';
import type { RetryPolicy } from './retry.ts';
import {
  type DiscoveryEvent,
  DiscoveryShardError,
  type IdColumn,
  type MorayShardSource,
  type ShardCheckpoints,
} from './types.ts';

export interface MorayShardScanOptions {
  readonly source: MorayShardSource;
  readonly saved: ShardCheckpoints;
  readonly chunkSize: number;
  readonly windowsInFlight: number;
  readonly batchSize: number;
  readonly requestTimeoutMs: number;
  readonly row: Omit<RowContext, 'column' | 'shard'>;
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly onRetry: (err: unknown, attempt: number, window: string) => void;
  readonly onRows: (rows: number) => void;
}

export async function* scanMorayShard(o: MorayShardScanOptions): AsyncGenerator<DiscoveryEvent> {
  const { source } = o;
  for (const column of ['_id', '_idx'] as const satisfies readonly IdColumn[]) {
    const resumeAt = o.saved[column];
    if (resumeAt?.done) continue;
    const after = resumeAt?.through === undefined ? undefined : BigInt(resumeAt.through);
    const common = {
      shard: source.shard,
      column,
      after,
      retry: o.retry,
      row: o.row,
      signal: o.signal,
      onRetry: o.onRetry,
      onRows: o.onRows,
    };
    if (source.mode === 'moray') {
      yield* scanMorayColumn({
        ...common,
        client: source.client,
        chunkSize: o.chunkSize,
        windowsInFlight: o.windowsInFlight,
        requestTimeoutMs: o.requestTimeoutMs,
      });
      continue;
    }
    if (column === '_idx' && !(await idxExists(o, source))) {
      yield { kind: 'checkpoint', shard: source.shard, column, through: undefined, done: true };
      continue;
    }
    yield* scanDirectColumn({ ...common, db: source.db, batchSize: o.batchSize });
  }
}

async function idxExists(
  o: MorayShardScanOptions,
  source: Extract<MorayShardSource, { mode: 'direct-db' }>,
): Promise<boolean> {
  try {
    return await retry(() => hasIdxColumn(source.db), {
      attempts: o.retry.retries + 1,
      delay: o.retry.delay,
      signal: o.signal,
      onRetry: (err, attempt) => o.onRetry(err, attempt, '_idx column lookup'),
    });
  } catch (err) {
    if (o.signal.aborted) throw err;
    const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
    const cause = err instanceof RetriesExhaustedError ? err.lastError : err;
    throw new DiscoveryShardError(
      source.shard,
      '_idx',
      { from: 'column lookup', to: undefined },
      attempts,
      cause,
    );
  }
}
