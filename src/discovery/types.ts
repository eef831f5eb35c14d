/**
 * What discovery yields and what it scans (protocols.md §5, manager.md §4.3).
 *
 * One async iterable carries, in order per shard: the objects found on the shark, the objects
 * excluded by `exclude_key_prefixes` (recorded, not dropped: manager.md §13.17), malformed
 * records (reported with their key, the scan goes on), and checkpoints. A checkpoint comes
 * after every event of the ids it covers, so a consumer that has stored everything before it
 * may persist it and later resume from it.
 */
import type { Row } from '../db/index.ts';
import { RebalancerError } from '../errors.ts';
import type { MantaObjectValue } from '../manta/index.ts';

/** The id columns Moray may use: `_id`, and `_idx` on older migrated tables (protocols.md §3.2). */
export type IdColumn = '_id' | '_idx';

/** An object that has a copy on the shark being scanned for. */
export interface DiscoveredObject {
  readonly kind: 'object';
  readonly shard: number;
  /** Moray `_key` (= `value.key`). */
  readonly key: string;
  /** Moray `_etag` of the row read: the precondition of the later metadata update. */
  readonly etag: string;
  /** `value.objectId`, the id the evacuate job tracks the object under (L's EvacuateObject.id). */
  readonly id: string;
  /** The parsed Manta record, every member kept in order. */
  readonly value: MantaObjectValue;
  /** The matched `manta_storage_id`. */
  readonly shark: string;
  /** The Moray row id (`_id`, or `_idx`), decimal. */
  readonly rowId: string;
}

/** An object on the shark that `exclude_key_prefixes` keeps out of the job. */
export interface ExcludedObject {
  readonly kind: 'excluded';
  readonly shard: number;
  readonly key: string;
  readonly id: string;
  readonly shark: string;
  readonly rowId: string;
  readonly reason: 'excluded_key_prefix';
  /** The configured entry that matched. */
  readonly prefix: string;
}

/** A row whose `_value` could not be understood; it may or may not concern the shark. */
export interface MalformedRecord {
  readonly kind: 'malformed';
  readonly shard: number;
  readonly key: string;
  readonly rowId: string;
  /** What is wrong, naming the field. */
  readonly problem: string;
}

/** Every row of `shard` with `column` ≤ `through` has been yielded (or the column is `done`). */
export interface Checkpoint {
  readonly kind: 'checkpoint';
  readonly shard: number;
  readonly column: IdColumn;
  /** Highest id fully processed, decimal; undefined only when nothing was scanned. */
  readonly through: string | undefined;
  /** The column is scanned to the end: nothing left to do for it. */
  readonly done: boolean;
}

export type DiscoveryEvent = DiscoveredObject | ExcludedObject | MalformedRecord | Checkpoint;

/** Where to resume a shard: per column, the last `through` (and whether it was done). */
export type ShardCheckpoints = Partial<Record<IdColumn, { through?: string; done?: boolean }>>;

/** The part of the Moray client discovery uses: the `sql` RPC, one row per yielded value. */
export interface MoraySqlClient {
  sql(
    statement: string,
    values: readonly unknown[],
    options?: Record<string, unknown>,
  ): AsyncIterable<unknown>;
}

/** The part of the database interface direct-db discovery uses. */
export interface StreamingDatabase {
  stream<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: { batchSize?: number },
  ): AsyncIterable<R>;
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
}

/** One metadata shard and how to read it. */
export type ShardSource =
  | { readonly shard: number; readonly mode: 'moray'; readonly client: MoraySqlClient }
  | { readonly shard: number; readonly mode: 'direct-db'; readonly db: StreamingDatabase };

/** A shard that could not be scanned, after retries: discovery fails with this. */
export class DiscoveryShardError extends RebalancerError {
  override readonly name = 'DiscoveryShardError';
  readonly code = 'discovery_shard_failed';
  constructor(
    readonly shard: number,
    readonly column: IdColumn,
    /**
     * The window that failed: moray mode `{from: '14', to: '20'}`; direct-db mode the resume
     * point `{from: '> 10'}` or `{from: 'from the start'}`.
     */
    readonly window: { readonly from: string; readonly to: string | undefined },
    readonly attempts: number,
    cause: unknown,
  ) {
    const range =
      window.to === undefined
        ? `${column} ${window.from}`
        : `${column} ${window.from}..${window.to}`;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`discovery of shard ${shard} failed at ${range} after ${attempts} attempt(s): ${why}`, {
      cause,
    });
  }
}
