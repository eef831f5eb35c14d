/**
 * The sandbox's buckets tier as one thing to talk to: a client per buckets-mdapi shard and
 * the vnode → shard map, so a caller names a vnode and reaches the shard that hosts it (as
 * buckets-api does through its placement ring).
 */
import { RebalancerError } from '../errors.ts';
import { MdapiClient } from '../mdapi/index.ts';
import type { SandboxBucketsShard, SandboxDescription } from './description.ts';

export class BucketsTierError extends RebalancerError {
  override readonly name = 'BucketsTierError';
  readonly code = 'sandbox_buckets_tier';
}

export interface BucketsTierShard {
  readonly shard: SandboxBucketsShard;
  readonly client: MdapiClient;
}

export class BucketsTier {
  readonly shards: readonly BucketsTierShard[];
  /** Vnodes of the ring: every shard's vnodes together are 0..vnodeCount-1. */
  readonly vnodeCount: number;
  readonly #byVnode: ReadonlyMap<number, BucketsTierShard>;

  private constructor(shards: readonly BucketsTierShard[]) {
    this.shards = shards;
    const byVnode = new Map<number, BucketsTierShard>();
    for (const entry of shards) {
      for (const vnode of entry.shard.vnodes) {
        if (byVnode.has(vnode)) throw new BucketsTierError(`vnode ${vnode} is on two shards`);
        byVnode.set(vnode, entry);
      }
    }
    this.vnodeCount = byVnode.size;
    for (let v = 0; v < this.vnodeCount; v++) {
      if (!byVnode.has(v)) throw new BucketsTierError(`no buckets shard hosts vnode ${v}`);
    }
    this.#byVnode = byVnode;
  }

  /** Clients for the sandbox's buckets shards (none when it has none). */
  static open(sandbox: SandboxDescription, connections = 2): BucketsTier {
    return new BucketsTier(
      (sandbox.buckets_shards ?? []).map((shard) => ({
        shard,
        client: new MdapiClient({ host: shard.host, port: shard.port, connections }),
      })),
    );
  }

  /** The client of the shard hosting `vnode`. */
  at(vnode: number): MdapiClient {
    const entry = this.#byVnode.get(vnode);
    if (!entry) throw new BucketsTierError(`no buckets shard hosts vnode ${vnode}`);
    return entry.client;
  }

  /** The name of the shard hosting `vnode`. */
  shardOf(vnode: number): string {
    const entry = this.#byVnode.get(vnode);
    if (!entry) throw new BucketsTierError(`no buckets shard hosts vnode ${vnode}`);
    return entry.shard.name;
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.client.close()));
  }
}
