import { RebalancerError } from '../errors.ts';

/** The shape of a sandbox: how many of each service, and the names Manta would give them. */
export interface SandboxLayout {
  /** Manta's DNS domain; storage ids are `N.stor.<domain>`, shards `N.moray.<domain>`. */
  domain: string;
  shards: number;
  sharks: number;
  datacenters: number;
  /** What each mako pretends its filesystem holds; storinfo reports usage against it. */
  sharkCapacityBytes: number;
  /** buckets-mdapi shards (`N.buckets-mdapi.<domain>`); absent or 0: none. */
  bucketsShards?: number;
  /** Vnodes of the buckets ring, dealt to the buckets shards round-robin; default 8. */
  bucketsVnodes?: number;
  /**
   * Makos keep connections open, as a real mako does with MAKO_HTTP_KEEPALIVE_TIMEOUT set.
   * Default false: each response closes its connection (nginx's `keepalive_timeout 0`).
   */
  makoKeepAlive?: boolean;
}

export const DEFAULT_LAYOUT: SandboxLayout = {
  domain: 'sandbox.test',
  shards: 2,
  sharks: 6,
  datacenters: 2,
  sharkCapacityBytes: 16 * 1024 ** 3,
  bucketsShards: 2,
  bucketsVnodes: 8,
};

export const DEFAULT_BUCKETS_VNODES = 8;

export class SandboxLayoutError extends RebalancerError {
  override readonly name = 'SandboxLayoutError';
  readonly code = 'sandbox_layout';
}

export function validateLayout(layout: SandboxLayout): SandboxLayout {
  const positive = (name: string, value: number, max: number) => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new SandboxLayoutError(`${name} must be an integer from 1 to ${max}, not ${value}`);
    }
  };
  positive('shards', layout.shards, 64);
  positive('sharks', layout.sharks, 256);
  positive('datacenters', layout.datacenters, layout.sharks);
  const bucketsShards = layout.bucketsShards ?? 0;
  if (!Number.isInteger(bucketsShards) || bucketsShards < 0 || bucketsShards > 64) {
    throw new SandboxLayoutError(
      `buckets shards must be an integer from 0 to 64, not ${bucketsShards}`,
    );
  }
  // Every buckets shard must host at least one vnode.
  positive('buckets vnodes', layout.bucketsVnodes ?? DEFAULT_BUCKETS_VNODES, 4096);
  if (bucketsShards > (layout.bucketsVnodes ?? DEFAULT_BUCKETS_VNODES)) {
    throw new SandboxLayoutError('buckets vnodes must be at least the number of buckets shards');
  }
  if (!Number.isSafeInteger(layout.sharkCapacityBytes) || layout.sharkCapacityBytes < 1 << 20) {
    throw new SandboxLayoutError('shark capacity must be at least 1 MiB');
  }
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(layout.domain)) {
    throw new SandboxLayoutError(
      `domain must be a DNS name such as sandbox.test, not ${layout.domain}`,
    );
  }
  return layout;
}

export const shardName = (n: number, domain: string): string => `${n}.moray.${domain}`;
export const storageId = (n: number, domain: string): string => `${n}.stor.${domain}`;
/** Datacenters are dealt round-robin, so every datacenter has sharks when sharks >= dcs. */
export const datacenterOf = (n: number, datacenters: number): string =>
  `dc${((n - 1) % datacenters) + 1}`;
/** The buckets shard number is the name's first label, as L's config reads it. */
export const bucketsShardName = (n: number, domain: string): string =>
  `${n}.buckets-mdapi.${domain}`;

/** The vnodes buckets shard `n` (1-based) of `shards` hosts: those with v % shards == n - 1. */
export function bucketsShardVnodes(n: number, shards: number, vnodes: number): number[] {
  return Array.from({ length: vnodes }, (_, v) => v).filter((v) => v % shards === n - 1);
}
