import { createHash } from 'node:crypto';

/**
 * The sandbox's stand-in for electric-moray's consistent-hash ring: a key hashes to a vnode,
 * and vnodes are dealt to shards round-robin. What matters to the rebalancer is only that a
 * key always lives on the same shard and that `vnode` is kept in the record.
 */
export const SANDBOX_VNODES = 1024;

export function vnodeOfKey(key: string, vnodes = SANDBOX_VNODES): number {
  return createHash('md5').update(key).digest().readUInt32BE(0) % vnodes;
}

/** Index (0-based) into the sandbox's shard list. */
export function shardIndexOfVnode(vnode: number, shardCount: number): number {
  return vnode % shardCount;
}
