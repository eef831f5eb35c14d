/**
 * Buckets RPC listing mode (peers.md §3.4, `direct_db: false`): once the catalogue of the
 * tier's owners and buckets is known (buckets-catalogue.ts), each vnode of the shard,
 * ascending, is read with `listobjects` for every owner and bucket, paged by marker.
 *
 * Unlike L: the real buckets-mdapi implements neither `listvnodes` nor `listowners`, and L
 * then skipped the shard with a warning and reported success with nothing found; here that
 * fails discovery with BucketsListingUnsupportedError naming the shard, unless the operator
 * configured the vnodes and owners. Objects are listed from the vnode being scanned (L sent
 * `vnode: 0`), for every bucket of the owner (not only those whose record shares the vnode),
 * and a checkpoint after every page lets a restart resume inside a bucket.
 * `exclude_key_prefixes` is not applied, as L does not (peers.md §4.4).
 */
import type { Logger } from '../log/index.ts';
import {
  type BucketCatalogue,
  compareText,
  type ListingOptions,
  listingCall,
  type RpcShardSource,
} from './buckets-catalogue.ts';
import { interpretListedObject } from './buckets-record.ts';
import { bucketsCheckpoint, describePosition, vnodePlan } from './buckets-scan.ts';
import type { BucketsListedBucket, BucketsPosition, BucketsResume } from './buckets-types.ts';
import { type DiscoveryEvent, DiscoveryShardError } from './types.ts';

/** The most `listobjects`/`listbuckets` return per call. */
export const MAX_LIST_PAGE = 1024;
const MODE = 'buckets-rpc';

export interface BucketsRpcScanOptions extends ListingOptions {
  readonly source: RpcShardSource;
  readonly shark: string;
  /** The tier's owners and buckets: one catalogue for every buckets-rpc shard. */
  readonly catalogue: () => Promise<BucketCatalogue>;
  readonly resume: BucketsResume | undefined;
  readonly onRows: (rows: number) => void;
  readonly log?: Logger | undefined;
}

interface Walk {
  readonly o: BucketsRpcScanOptions;
  readonly vnode: number;
  /** The last object handled in the vnode. */
  last: BucketsPosition | undefined;
}

export async function* scanBucketsRpc(o: BucketsRpcScanOptions): AsyncGenerator<DiscoveryEvent> {
  const catalogue = await o.catalogue();
  const vnodes = catalogue.vnodes.get(o.source.shard) ?? [];
  for (const start of vnodePlan(vnodes, MODE, o.resume)) {
    // A position without its bucket's name does not place it in the listing's order.
    const after = start.after?.bucket === undefined ? undefined : start.after;
    const walk: Walk = { o, vnode: start.vnode, last: after };
    for (const { owner, buckets } of catalogue.owners) {
      if (after !== undefined && compareText(owner, after.owner) < 0) continue;
      for (const bucket of buckets) {
        let marker: string | undefined;
        if (after !== undefined && owner === after.owner && after.bucket !== undefined) {
          const order = compareText(bucket.name, after.bucket);
          if (order < 0) continue;
          if (order === 0 && bucket.id === after.bucket_id) marker = after.name;
        }
        yield* walkBucket(walk, owner, bucket, marker);
      }
    }
    yield bucketsCheckpoint(o.source.shard, MODE, start.vnode, walk.last, true);
  }
}

async function* walkBucket(
  w: Walk,
  owner: string,
  bucket: BucketsListedBucket,
  after: string | undefined,
): AsyncGenerator<DiscoveryEvent> {
  const { o, vnode } = w;
  const ctx = { shard: o.source.shard, vnode, shark: o.shark };
  let marker = after;
  for (;;) {
    const position = describePosition(w.last);
    const page = await listingCall(
      o,
      o.source,
      `vnode ${vnode}`,
      'listobjects',
      position,
      (signal) =>
        o.source.client.listObjects(
          {
            owner,
            bucket_id: bucket.id,
            vnode,
            limit: o.pageSize,
            ...(marker === undefined ? {} : { marker }),
          },
          { signal },
        ),
    );
    for (const raw of page) {
      const outcome = interpretListedObject(raw, ctx);
      if (outcome) yield outcome;
    }
    o.onRows(page.length);
    const lastName = lastNameOf(page);
    if (lastName !== undefined) {
      w.last = { owner, bucket: bucket.name, bucket_id: bucket.id, name: lastName };
      yield bucketsCheckpoint(o.source.shard, MODE, vnode, w.last, false);
    }
    if (page.length < o.pageSize) return;
    if (lastName === undefined) {
      // A full page must be followed by the next one, which needs the last name as marker.
      const why = new TypeError('the last object of a full listobjects page has no name');
      throw new DiscoveryShardError(
        o.source.shard,
        `vnode ${vnode}`,
        { from: `listobjects ${position}`, to: undefined },
        1,
        why,
        'buckets',
      );
    }
    marker = lastName;
  }
}

/** The marker for the next page: the last object's name (a page without one cannot go on). */
function lastNameOf(page: readonly unknown[]): string | undefined {
  const last = page.at(-1);
  if (typeof last !== 'object' || last === null || !Object.hasOwn(last, 'name')) return undefined;
  const name: unknown = Reflect.get(last, 'name');
  return typeof name === 'string' ? name : undefined;
}
