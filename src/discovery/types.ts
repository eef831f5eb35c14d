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
import type {
  BucketsCheckpoint,
  BucketsDiscoveredObject,
  BucketsResume,
  BucketsShardSource,
} from './buckets-types.ts';

/** The id columns Moray may use: `_id`, and `_idx` on older migrated tables (protocols.md §3.2). */
export type IdColumn = '_id' | '_idx';

/** An object of a Moray shard that has a copy on the shark being scanned for. */
export interface MorayDiscoveredObject {
  readonly kind: 'object';
  /** Absent on Moray objects; `'buckets'` on buckets (v2) ones. */
  readonly tier?: undefined;
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

/** An object on the shark: from a Moray shard, or (`tier: 'buckets'`) a buckets-mdapi shard. */
export type DiscoveredObject = MorayDiscoveredObject | BucketsDiscoveredObject;

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
  /** `'buckets'` for a buckets-mdapi row (`shard` is then a buckets shard). */
  readonly tier?: 'buckets';
  readonly shard: number;
  readonly key: string;
  /** Moray: the row id; buckets: `<vnode>/<owner>/<bucket_id>/<name>`. */
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

export type DiscoveryEvent =
  | DiscoveredObject
  | ExcludedObject
  | MalformedRecord
  | Checkpoint
  | BucketsCheckpoint;

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

/** A Moray shard and how to read it. */
export type MorayShardSource =
  | { readonly shard: number; readonly mode: 'moray'; readonly client: MoraySqlClient }
  | { readonly shard: number; readonly mode: 'direct-db'; readonly db: StreamingDatabase };

/** One metadata shard and how to read it: Moray, or buckets-mdapi (`mode: 'buckets-…'`). */
export type ShardSource = MorayShardSource | BucketsShardSource;

/** Where to resume a buckets shard, per buckets shard number. */
export type BucketsCheckpoints = ReadonlyMap<number, BucketsResume>;

/** What a buckets shard's failing read was: the vnode list, or one vnode. */
export type BucketsScope = 'vnodes' | `vnode ${number}`;

/** A shard that could not be scanned, after retries: discovery fails with this. */
export class DiscoveryShardError extends RebalancerError {
  override readonly name = 'DiscoveryShardError';
  readonly code = 'discovery_shard_failed';
  constructor(
    readonly shard: number,
    /** The Moray id column, or (buckets) what was being read. */
    readonly column: IdColumn | BucketsScope,
    /**
     * The window that failed: moray mode `{from: '14', to: '20'}`; direct-db mode the resume
     * point `{from: '> 10'}` or `{from: 'from the start'}`; buckets the position in the vnode.
     */
    readonly window: { readonly from: string; readonly to: string | undefined },
    readonly attempts: number,
    cause: unknown,
    /** Which metadata tier `shard` numbers (they overlap). */
    readonly tier: 'moray' | 'buckets' = 'moray',
  ) {
    const range =
      window.to === undefined
        ? `${column} ${window.from}`
        : `${column} ${window.from}..${window.to}`;
    const why = cause instanceof Error ? cause.message : String(cause);
    const which = tier === 'buckets' ? `buckets shard ${shard}` : `shard ${shard}`;
    super(`discovery of ${which} failed at ${range} after ${attempts} attempt(s): ${why}`, {
      cause,
    });
  }
}
