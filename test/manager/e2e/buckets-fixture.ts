/**
 * The sandbox the buckets e2e suites share: one Moray shard, 4 sharks in 2 datacenters (1 and
 * 3 in dc1, 2 and 4 in dc2), two buckets-mdapi shards over VNODES vnodes, the manager told of
 * them, and one bucket of one owner; with the lookups the suites make of it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { objectVnode } from '../../../src/manta/buckets.ts';
import type { ObjectResponse } from '../../../src/mdapi/index.ts';
import { BucketsTier } from '../../../src/sandbox/buckets-tier.ts';
import type { SandboxShark } from '../../../src/sandbox/description.ts';
import { BucketsWriter } from '../../../src/sandbox/seed/buckets-writer.ts';
import { E2ESandbox } from './sandbox.ts';

export const VNODES = 8;
export const BUCKETS_SHARDS = 2;

export interface BucketsSandbox {
  e2e: E2ESandbox;
  tier: BucketsTier;
  writer: BucketsWriter;
  owner: string;
  bucketId: string;
  stop(): Promise<void>;
}

export async function startBucketsSandbox(
  name: string,
  domain: string,
  options: Record<string, unknown>,
  bucket: string,
): Promise<BucketsSandbox> {
  const e2e = await E2ESandbox.start(
    name,
    {
      domain,
      shards: 1,
      sharks: 4,
      datacenters: 2,
      sharkCapacityBytes: 16 * 1024 ** 3,
      bucketsShards: BUCKETS_SHARDS,
      bucketsVnodes: VNODES,
    },
    {
      mdapi: {
        shards: [1, 2].map((n) => ({ host: `${n}.buckets-mdapi.${domain}` })),
        vnode_count: VNODES,
      },
      options,
    },
  );
  const tier = BucketsTier.open(e2e.sandbox);
  const writer = new BucketsWriter(tier);
  const owner = randomUUID();
  const bucketId = (await writer.createBucket(owner, bucket, randomUUID())).id;
  return {
    e2e,
    tier,
    writer,
    owner,
    bucketId,
    stop: async () => {
      await tier.close();
      await e2e.stop();
    },
  };
}

/** Lookups in the sandbox `current()` returns once its suite's `before` has run. */
export function bucketsLookups(current: () => BucketsSandbox) {
  const shark = (n: number): SandboxShark => {
    const { e2e } = current();
    const found = e2e.sandbox.sharks.find((s) => s.manta_storage_id === e2e.shark(n));
    assert.ok(found);
    return found;
  };
  const keyOf = (name: string) => {
    const { owner, bucketId } = current();
    return {
      owner,
      bucket_id: bucketId,
      name,
      vnode: objectVnode(owner, bucketId, name, VNODES),
    };
  };
  const live = (name: string): Promise<ObjectResponse> =>
    current().tier.at(keyOf(name).vnode).getObject(keyOf(name));
  return { shark, keyOf, live };
}
