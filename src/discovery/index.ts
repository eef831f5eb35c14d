export {
  type BucketsCheckpoint,
  type BucketsDiscoveredObject,
  BucketsListingUnsupportedError,
  type BucketsMode,
  BucketsNoVnodesError,
  type BucketsPosition,
  BucketsResume,
  type BucketsShardSource,
  type MdapiListingClient,
} from './buckets-types.ts';
export { hasIdxColumn } from './direct-scan.ts';
export {
  Discovery,
  type DiscoveryOptions,
  discoverObjects,
  type ShardStats,
} from './discover.ts';
export { DEFAULT_EXCLUDE_KEY_PREFIXES, type ExcludeMatch, keyExcluder } from './exclude.ts';
export { interpretRow, rowIdOf } from './record.ts';
export {
  type BucketsCheckpoints,
  type Checkpoint,
  type DiscoveredObject,
  type DiscoveryEvent,
  DiscoveryShardError,
  type ExcludedObject,
  type IdColumn,
  type MalformedRecord,
  type MorayDiscoveredObject,
  type MorayShardSource,
  type MoraySqlClient,
  type ShardCheckpoints,
  type ShardSource,
  type StreamingDatabase,
} from './types.ts';
