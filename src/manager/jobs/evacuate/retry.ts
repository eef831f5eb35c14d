/**
 * A retry job's discovery (manager.md §4.13): the objects the previous job left unfinished —
 * skipped, errored, and (for a job that was cancelled or failed) those it never finished —
 * each re-read live, so that the retry works on the object as it is now (DESIGN invariant 7).
 * The live record is the object's whole identity: objectId, owner, MD5, size and etag come
 * from it together, never an old objectId with a new record (a user's identical re-upload has
 * a new objectId whose file the old one's copy is not).
 */
import type { MantaObjectValue } from '../../../manta/index.ts';
import type { ObjectStatus, StoredObject } from '../../store/index.ts';
import type { LiveRecord, RecordBatch, RecordRef, UnusableRecord } from './types.ts';

export interface RetryScanDeps {
  /** The previous job's objects in `status`, a page after `afterId`. */
  page(status: ObjectStatus, afterId: string | undefined): Promise<StoredObject[]>;
  /** The live record (undefined when gone), transient failures already retried. */
  readLive(ref: RecordRef): Promise<LiveRecord | UnusableRecord | undefined>;
  /** True when the job's `exclude_key_prefixes` keep the key out (as discovery does). */
  excluded(key: string): boolean;
  evacuated: string;
  /** True once the job is cancelled: nothing more is read. */
  stopped(): boolean;
}

/** Statuses a retry takes, in this order; `complete` objects are done. */
const RETRIED: readonly ObjectStatus[] = [
  'skipped',
  'error',
  'unprocessed',
  'assigned',
  'post_processing',
];

function namesShark(value: MantaObjectValue, shark: string): boolean {
  return value.sharks.some((c) => c.manta_storage_id === shark);
}

/** Yields the retry's objects as record batches, a page of the previous job at a time. */
export async function* retryBatches(deps: RetryScanDeps): AsyncGenerator<RecordBatch> {
  for (const status of RETRIED) {
    let after: string | undefined;
    for (;;) {
      if (deps.stopped()) return;
      const page = await deps.page(status, after);
      if (page.length === 0) break;
      after = page[page.length - 1]?.id;
      const batch: RecordBatch = { objects: [], skipped: [], malformed: [], checkpoint: undefined };
      for (const o of page) {
        if (o.error === 'bad_shard_number') continue;
        const where = { id: o.id, key: o.key, shard: o.shard, tier: o.tier };
        const old = { ...where, etag: o.etag, object: o.object };
        if (deps.excluded(o.key)) {
          batch.skipped.push({ object: old, reason: 'excluded_key_prefix' });
          continue;
        }
        const live = await deps.readLive(o);
        if (live === undefined) {
          batch.skipped.push({ object: old, reason: 'metadata_object_not_found' });
          continue;
        }
        if ('problem' in live) {
          batch.malformed.push({ tier: o.tier, shard: o.shard, key: o.key, problem: live.problem });
          continue;
        }
        const fresh = { ...where, id: live.value.objectId, etag: live.etag };
        if (!namesShark(live.value, deps.evacuated)) {
          batch.skipped.push({
            object: { ...fresh, object: live.value },
            reason: 'object_not_on_shark',
          });
          continue;
        }
        batch.objects.push({ ...fresh, object: live.value });
      }
      yield batch;
    }
  }
}
