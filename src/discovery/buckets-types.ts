/**
 * What discovery yields and reads for buckets (v2) objects, whose metadata lives in
 * buckets-mdapi: per-vnode schemas `manta_bucket_<vnode>` on buckets-postgres shards
 * (peers.md §3). Buckets shard numbers overlap Moray's (Moray shard 1 and buckets shard 1
 * both exist), so every v2 event carries `tier: 'buckets'` and v2 checkpoints are their own
 * kind: a consumer can never take one tier's position for the other's.
 */
import Type, { type Static } from 'typebox';
import { RebalancerError } from '../errors.ts';
import type { MantaObjectValue } from '../manta/index.ts';
import type { StreamingDatabase } from './types.ts';

/** A buckets object that has a copy on the shark being scanned for. */
export interface BucketsDiscoveredObject {
  readonly kind: 'object';
  readonly tier: 'buckets';
  /** The buckets-mdapi shard (not a Moray shard). */
  readonly shard: number;
  /** The vnode schema the row lives in; updates must name it (and reach its shard). */
  readonly vnode: number;
  /** The object's `name` (= `value.key` = `value.name`). */
  readonly key: string;
  /** The object's `id`: buckets-mdapi compares `if-match` against it (peers.md §3.2). */
  readonly etag: string;
  /** The object's `id` (= `value.objectId`). */
  readonly id: string;
  /**
   * The Moray-shaped record (peers.md §3.4) with the object's own `headers` (null values
   * kept) and `properties` as read, so the metadata update writes them back unchanged.
   */
  readonly value: MantaObjectValue;
  readonly shark: string;
  /** `<vnode>/<owner>/<bucket_id>/<name>`: where the row is, for logs and reports. */
  readonly rowId: string;
}

/**
 * Where a buckets shard's scan stands. Vnodes are scanned one at a time in ascending
 * numeric order, so every vnode below `vnode` is done, and `vnode` itself is done through
 * `after` (or entirely when `done`).
 */
export interface BucketsCheckpoint {
  readonly kind: 'buckets-checkpoint';
  readonly tier: 'buckets';
  readonly shard: number;
  /**
   * How the vnode is read. The two modes walk a vnode in different orders, so a position
   * is resumed only by the mode that wrote it; the other restarts that vnode.
   */
  readonly mode: BucketsMode;
  readonly vnode: number;
  /** The last object handled in the vnode; undefined when nothing was yet. */
  readonly after: BucketsPosition | undefined;
  readonly done: boolean;
}

export type BucketsMode = 'buckets-direct-db' | 'buckets-rpc';

/**
 * An object's place in a vnode walk. Direct-db orders by the primary key
 * `(owner, bucket_id, name)` compared as bytes; the RPC listing by owner, then bucket name
 * (`bucket`, which only that mode records) and id, then object name.
 */
const BucketsPositionSchema = Type.Object({
  owner: Type.String(),
  bucket_id: Type.String(),
  name: Type.String(),
  bucket: Type.Optional(Type.String()),
});
export type BucketsPosition = Static<typeof BucketsPositionSchema>;

/**
 * Where to resume a buckets shard: its last checkpoint without kind, tier and shard. A
 * schema, so that a consumer reading one back from its store validates it.
 */
export const BucketsResume = Type.Object({
  mode: Type.Union([Type.Literal('buckets-direct-db'), Type.Literal('buckets-rpc')]),
  vnode: Type.Integer({ minimum: 0 }),
  after: Type.Optional(BucketsPositionSchema),
  done: Type.Boolean(),
});
export type BucketsResume = Static<typeof BucketsResume>;

/** A bucket as `listbuckets` answers it. */
export interface BucketsListedBucket {
  readonly id: string;
  readonly name: string;
}

interface ListingRequest {
  readonly signal?: AbortSignal;
}

/**
 * The part of the buckets-mdapi client (src/mdapi MdapiClient) the RPC listing uses, failing
 * with its errors: MdapiUnsupportedError from `listVnodes`/`listOwners` when the server lacks
 * them (the real buckets-mdapi does).
 */
export interface MdapiListingClient {
  listVnodes(opts?: ListingRequest): Promise<readonly number[]>;
  listOwners(vnode: number, opts?: ListingRequest): Promise<readonly string[]>;
  listBuckets(
    args: { owner: string; vnode: number; limit: number; marker?: string },
    opts?: ListingRequest,
  ): Promise<readonly BucketsListedBucket[]>;
  /** One page of ObjectResponse values, by name after `marker` (validated by the scan). */
  listObjects(
    args: { owner: string; bucket_id: string; vnode: number; limit: number; marker?: string },
    opts?: ListingRequest,
  ): Promise<readonly unknown[]>;
}

/** A buckets-mdapi shard and how to read it. */
export type BucketsShardSource =
  | {
      readonly shard: number;
      /** A buckets-postgres clone (L's `direct_db`, database `buckets_metadata`). */
      readonly mode: 'buckets-direct-db';
      readonly db: StreamingDatabase;
    }
  | {
      readonly shard: number;
      /** buckets-mdapi listing RPCs (`direct_db: false`). */
      readonly mode: 'buckets-rpc';
      readonly client: MdapiListingClient;
      /** The vnodes the shard hosts; asked with `listvnodes` when absent. */
      readonly vnodes?: readonly number[];
      /** The owners to list in every vnode; asked with `listowners` when absent. */
      readonly owners?: readonly string[];
    };

/**
 * A buckets shard cannot be listed: the server lacks `listvnodes`/`listowners` and the
 * operator gave no vnode set / owners. Never retried, and never a silent empty result (L
 * skipped the shard and found nothing).
 */
export class BucketsListingUnsupportedError extends RebalancerError {
  override readonly name = 'BucketsListingUnsupportedError';
  readonly code = 'discovery_buckets_listing_unsupported';
  constructor(
    readonly shard: number,
    readonly rpc: 'listvnodes' | 'listowners',
    cause?: unknown,
  ) {
    const fix = rpc === 'listvnodes' ? 'the vnodes it hosts' : 'the owners to list';
    super(
      `buckets shard ${shard}: buckets-mdapi does not implement ${rpc}, so its objects ` +
        `cannot be listed; configure ${fix}, or discover through its buckets-postgres clone`,
      { cause },
    );
  }
}

/** A buckets shard with no vnode: a clone or server that is not a buckets-mdapi shard. */
export class BucketsNoVnodesError extends RebalancerError {
  override readonly name = 'BucketsNoVnodesError';
  readonly code = 'discovery_buckets_no_vnodes';
  constructor(
    readonly shard: number,
    readonly where: string,
  ) {
    super(`buckets shard ${shard} has no vnode (${where}): nothing could be scanned`);
  }
}
