/**
 * What `up` does to the Moray shards once they run: Manta's buckets on every shard, and the
 * storage nodes registered on shard 1 as minnow registers them.
 */
import { BucketNotFoundError, MorayClient } from '../moray/index.ts';
import type { SandboxShard, SandboxShark } from './description.ts';
import type { SandboxLayout } from './layout.ts';
import { MANTA_BUCKET, MANTA_STORAGE_BUCKET } from './moray/manta-buckets.ts';
import { buildRecord } from './storinfo/record.ts';

/** Creates Manta's buckets on every shard and registers the storage nodes, as minnow would. */
export async function prepareShards(
  shards: readonly SandboxShard[],
  sharks: readonly SandboxShark[],
  layout: SandboxLayout,
): Promise<void> {
  for (const [index, shard] of shards.entries()) {
    const client = new MorayClient({ host: shard.host, port: shard.port, connections: 1 });
    try {
      await client.connect();
      for (const [name, config] of [
        ['manta', MANTA_BUCKET],
        ['manta_storage', MANTA_STORAGE_BUCKET],
      ] as const) {
        try {
          await client.getBucket(name);
        } catch (err) {
          if (!(err instanceof BucketNotFoundError)) throw err;
          await client.createBucket(name, config);
        }
      }
      // Manta keeps manta_storage on shard 1; the manager resolves evacuated sharks there.
      if (index === 0) {
        for (const shark of sharks) {
          await client.putObject(
            'manta_storage',
            shark.manta_storage_id,
            minnowRecord(shark, layout),
          );
        }
      }
    } finally {
      await client.close();
    }
  }
}

/**
 * Minnow's first heartbeat of a new, empty node: the whole record (statvfs, zone and server
 * uuids, ...) as the sandbox's storinfo computes it, keyed by the storage id.
 */
function minnowRecord(shark: SandboxShark, layout: SandboxLayout): Record<string, unknown> {
  return { ...buildRecord(shark, layout.sharkCapacityBytes, 0, Date.now()) };
}
