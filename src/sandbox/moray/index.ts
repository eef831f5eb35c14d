export { BUCKETS_CONFIG_DDL, BucketStore } from './buckets.ts';
export { morayEtag } from './etag.ts';
export {
  type BucketDefinition,
  MANTA_BUCKET,
  MANTA_BUCKET_NAME,
  MANTA_STORAGE_BUCKET,
  MANTA_STORAGE_BUCKET_NAME,
} from './manta-buckets.ts';
export { createMantaBuckets } from './setup.ts';
export {
  MORAY_API_VERSION,
  type MorayShard,
  type MorayShardOptions,
  registerMorayHandlers,
  startMorayShard,
} from './shard.ts';
