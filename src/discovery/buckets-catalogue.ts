/**
 * The RPC listing's first phase: which vnodes each buckets shard hosts, and every owner's
 * buckets across the whole buckets tier.
 *
 * A bucket's record lives in the vnode of `owner:bucket_name`, its objects in the vnodes of
 * `owner:bucket_id:md5(name)` (peers.md §3.1): they are spread over every vnode of every
 * shard, whatever vnode holds the bucket. So listing a vnode's objects means asking, for every
 * bucket of every owner in the tier, `listobjects` in that vnode. L listed only the buckets
 * whose record is in the same vnode, and so missed almost every object. The catalogue holds
 * buckets (ids and names), never objects: its size does not grow with the objects.
 */
import { RetriesExhaustedError, retry } from '../async/index.ts';
import { isRetryableMdapiError, MdapiUnsupportedError } from '../mdapi/index.ts';
import {
  type BucketsListedBucket,
  BucketsListingUnsupportedError,
  BucketsNoVnodesError,
  type BucketsShardSource,
} from './buckets-types.ts';
import type { RetryPolicy } from './retry.ts';
import { type BucketsScope, DiscoveryShardError } from './types.ts';

export type RpcShardSource = Extract<BucketsShardSource, { mode: 'buckets-rpc' }>;

export interface BucketCatalogue {
  /** Per buckets shard: the vnodes it hosts, ascending. */
  readonly vnodes: ReadonlyMap<number, readonly number[]>;
  /** Every owner with a bucket in the tier (or configured), ascending, buckets by name. */
  readonly owners: readonly OwnerBuckets[];
}

interface OwnerBuckets {
  readonly owner: string;
  readonly buckets: readonly BucketsListedBucket[];
}

export interface ListingOptions {
  /** Buckets and objects per list call, 1..1024. */
  readonly pageSize: number;
  /** On top of the client's own retries: a longer outage delays discovery, not fails it. */
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly onRetry: (shard: number, err: unknown, attempt: number, window: string) => void;
}

/** Code-unit order, the one every comparison of the listing uses. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function buildCatalogue(
  sources: readonly RpcShardSource[],
  o: ListingOptions,
): Promise<BucketCatalogue> {
  const vnodes = new Map<number, readonly number[]>();
  const owners = new Map<string, Map<string, BucketsListedBucket>>();
  for (const source of sources) {
    const hosted = [
      ...new Set(
        source.vnodes ??
          (await listingCall(o, source, 'vnodes', 'listvnodes', 'the shard', (signal) =>
            source.client.listVnodes({ signal }),
          )),
      ),
    ].sort((a, b) => a - b);
    if (hosted.length === 0) {
      const where = source.vnodes
        ? 'the configured vnode set is empty'
        : 'listvnodes returned none';
      throw new BucketsNoVnodesError(source.shard, where);
    }
    vnodes.set(source.shard, hosted);
    for (const vnode of hosted) {
      const listed =
        source.owners ??
        (await listingCall(o, source, `vnode ${vnode}`, 'listowners', 'the vnode', (signal) =>
          source.client.listOwners(vnode, { signal }),
        ));
      for (const owner of listed) {
        const buckets = owners.get(owner) ?? new Map<string, BucketsListedBucket>();
        owners.set(owner, buckets);
        for await (const bucket of ownerBuckets(o, source, vnode, owner)) {
          buckets.set(bucket.id, { id: bucket.id, name: bucket.name });
        }
      }
    }
  }
  return {
    vnodes,
    owners: [...owners.entries()]
      .sort(([a], [b]) => compareText(a, b))
      .map(([owner, buckets]) => ({
        owner,
        buckets: [...buckets.values()].sort(
          (a, b) => compareText(a.name, b.name) || compareText(a.id, b.id),
        ),
      })),
  };
}

/** The owner's buckets whose records are in `vnode`, page by page (L read only the first). */
async function* ownerBuckets(
  o: ListingOptions,
  source: RpcShardSource,
  vnode: number,
  owner: string,
): AsyncGenerator<BucketsListedBucket> {
  let marker: string | undefined;
  for (;;) {
    const at = `of ${owner}${marker === undefined ? '' : ` after ${marker}`}`;
    const page = await listingCall(o, source, `vnode ${vnode}`, 'listbuckets', at, (signal) =>
      source.client.listBuckets(
        { owner, vnode, limit: o.pageSize, ...(marker === undefined ? {} : { marker }) },
        { signal },
      ),
    );
    yield* page;
    const last = page.at(-1);
    if (page.length < o.pageSize || last === undefined) return;
    marker = last.name;
  }
}

/** One listing RPC, retried while retryable; its failure names the shard and position. */
export async function listingCall<T>(
  o: ListingOptions,
  source: RpcShardSource,
  scope: BucketsScope,
  rpc: 'listvnodes' | 'listowners' | 'listbuckets' | 'listobjects',
  position: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await retry(() => fn(o.signal), {
      attempts: o.retry.retries + 1,
      delay: o.retry.delay,
      retryable: isRetryableMdapiError,
      signal: o.signal,
      onRetry: (err, attempt) =>
        o.onRetry(source.shard, err, attempt, `${scope} ${rpc} ${position}`),
    });
  } catch (err) {
    if (o.signal.aborted) throw err;
    if (err instanceof MdapiUnsupportedError && (rpc === 'listvnodes' || rpc === 'listowners')) {
      throw new BucketsListingUnsupportedError(source.shard, rpc, err);
    }
    const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
    const cause = err instanceof RetriesExhaustedError ? err.lastError : err;
    throw new DiscoveryShardError(
      source.shard,
      scope,
      { from: `${rpc} ${position}`, to: undefined },
      attempts,
      cause,
      'buckets',
    );
  }
}
