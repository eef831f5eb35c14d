import type { Database } from '../../db/index.ts';
import { BucketStore } from './buckets.ts';
import {
  MANTA_BUCKET,
  MANTA_BUCKET_NAME,
  MANTA_STORAGE_BUCKET,
  MANTA_STORAGE_BUCKET_NAME,
} from './manta-buckets.ts';

/**
 * Creates `buckets_config`, `manta` and `manta_storage` directly in a shard's database (those
 * that do not exist yet), as a Moray shard of a Manta deployment has them.
 */
export async function createMantaBuckets(db: Database): Promise<void> {
  const store = new BucketStore(db);
  await store.setup();
  const existing = new Set((await store.list()).map((row) => row.name));
  if (!existing.has(MANTA_BUCKET_NAME)) await store.create(MANTA_BUCKET_NAME, MANTA_BUCKET);
  if (!existing.has(MANTA_STORAGE_BUCKET_NAME)) {
    await store.create(MANTA_STORAGE_BUCKET_NAME, MANTA_STORAGE_BUCKET);
  }
}
