/**
 * The buckets a Manta shard holds (spec/protocols.md §3.2, §4; peers.md §1.2): `manta` (object
 * and directory metadata, indexed as libmanta defines it) and `manta_storage` (minnow's storage
 * node heartbeats). Triggers are left out: this stand-in never runs them, and the rebalancer's
 * writes (empty `headers`) would not fire Manta's delete-log trigger anyway.
 */
export interface BucketDefinition {
  index: Record<string, { type: string; unique?: boolean }>;
  pre: string[];
  post: string[];
  options: Record<string, unknown>;
}

export const MANTA_BUCKET_NAME = 'manta';
export const MANTA_STORAGE_BUCKET_NAME = 'manta_storage';

export const MANTA_BUCKET: BucketDefinition = {
  index: {
    dirname: { type: 'string' },
    name: { type: 'string' },
    owner: { type: 'string' },
    objectId: { type: 'string' },
    type: { type: 'string' },
  },
  pre: [],
  post: [],
  options: { version: 2 },
};

export const MANTA_STORAGE_BUCKET: BucketDefinition = {
  index: {
    hostname: { type: 'string' },
    availableMB: { type: 'number' },
    percentUsed: { type: 'number' },
    server_uuid: { type: 'string' },
    timestamp: { type: 'number' },
    zone_uuid: { type: 'string' },
    manta_compute_id: { type: 'string' },
    manta_storage_id: { type: 'string' },
  },
  pre: [],
  post: [],
  options: { version: 1 },
};
