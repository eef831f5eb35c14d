/**
 * Metadata update (manager.md §4.9): for each assignment the agents finished, every object's
 * record is rewritten to name its new copy instead of the evacuated shark, etag-conditionally
 * (record-update.ts), `metadataThreads` at a time; with `use_batched_updates` first as one
 * atomic batch per shard. An object whose destination another job now evacuates, or took,
 * goes back to placement from its live record. Every update, each object of a batch too, is
 * paced by the job's and the fleet's per-shard limits.
 */
import type { StorageNode } from '../../../../api/common.ts';
import type { BoundedQueue } from '../../../../async/index.ts';
import type { MantaObjectValue } from '../../../../manta/index.ts';
import {
  type AssignedObject,
  type AssignmentRecord,
  type MetadataTier,
  type ObjectTarget,
  skipReasonLabel,
} from '../../../store/index.ts';
import { type EvacuateContext, isEvacuated, StageError } from '../context.ts';
import { BadObjectError, rewriteSharks } from '../object.ts';
import { shardSource, type UpdateResult } from '../record-update.ts';
import type { MetadataUpdate } from '../types.ts';
import { updateUploadRecords } from '../upload-records.ts';

export async function updateMetadata(
  ctx: EvacuateContext,
  input: BoundedQueue<AssignmentRecord>,
  fail: (err: unknown) => void,
): Promise<void> {
  const running = new Set<Promise<void>>();
  for await (const record of input) {
    const update: Promise<void> = updateAssignment(ctx, record)
      .catch((err: unknown) => fail(new StageError('metadata update', err)))
      .finally(() => {
        ctx.inFlight.metadataPending--;
        running.delete(update);
      });
    running.add(update);
    if (running.size >= ctx.settings.metadataAssignments) await Promise.race(running);
  }
  await Promise.all(running);
}

async function updateAssignment(ctx: EvacuateContext, record: AssignmentRecord): Promise<void> {
  const { store, metrics } = ctx.deps;
  const dest = { manta_storage_id: record.destShark, datacenter: record.destDatacenter };
  const objects = await store.objectsOfAssignment(ctx.jobId, record.id, 'post_processing');
  const batched = ctx.settings.batchedUpdates
    ? await updateBatched(ctx, objects, dest)
    : new Map<string, ObjectTarget>();
  const results = await Promise.all(
    objects.map(
      (o) =>
        batched.get(o.id) ??
        ctx.mdLimit.run(async () => {
          metrics.mdThreads.inc();
          try {
            return await updateOne(ctx, o, dest);
          } finally {
            metrics.mdThreads.dec();
          }
        }),
    ),
  );
  const groups = new Map<string, { target: ObjectTarget; ids: string[] }>();
  const again: { id: string; etag: string; object: MantaObjectValue }[] = [];
  let bytes = 0;
  results.forEach((target, i) => {
    const o = objects[i] as AssignedObject;
    if (target.status === 'place_again') {
      again.push({ id: o.id, etag: target.live.etag, object: target.live.value });
      return;
    }
    const key = JSON.stringify(target);
    const g = groups.get(key) ?? { target, ids: [] };
    g.ids.push(o.id);
    groups.set(key, g);
    if (target.status === 'complete') bytes += o.object.contentLength;
  });
  await store.transition(
    ctx.jobId,
    [...groups.values()].map((g) => ({
      select: { ids: g.ids },
      from: 'post_processing' as const,
      to: g.target,
    })),
  );
  for (const g of groups.values()) {
    if (g.target.status === 'complete') metrics.objectsComplete(g.ids.length, bytes);
    else if (g.target.status === 'error') metrics.objectErrors(g.target.error, g.ids.length);
    else if (g.target.status === 'skipped')
      metrics.objectSkips(skipReasonLabel(g.target.reason), g.ids.length);
  }
  ctx.stats.bytesMoved += bytes;
  await updateUploadRecords(
    ctx,
    objects
      .filter((o, i) => o.tier === 'buckets' && results[i]?.status === 'complete')
      .map((o) => o.object),
    dest,
  );
  const placed = new Set(await store.placeAgainFromLive(ctx.jobId, again));
  for (const o of again) if (placed.has(o.id)) ctx.placeAgain.push({ id: o.id, object: o.object });
  await store.setAssignmentState(record.id, ['agent_complete'], 'post_processed');
}

/**
 * `use_batched_updates`: one batch per tier and shard for the objects whose record can be
 * rewritten (an atomic Moray batch; a buckets-mdapi batch of per-vnode transactions). Returns
 * the objects done that way; the rest (a failed Moray batch: one user write fails it whole;
 * changed v2 records; failed vnodes) take the one-by-one path, which tells each outcome apart.
 */
async function updateBatched(
  ctx: EvacuateContext,
  objects: readonly AssignedObject[],
  dest: StorageNode,
): Promise<Map<string, ObjectTarget>> {
  const done = new Map<string, ObjectTarget>();
  if (isEvacuated(ctx, dest.manta_storage_id)) return done;
  const groups = new Map<
    string,
    { tier: MetadataTier; shard: number; updates: MetadataUpdate[] }
  >();
  const ids = new Map<MetadataUpdate, string>();
  for (const o of objects) {
    if (o.shard < 0) continue;
    let value: MantaObjectValue;
    try {
      value = rewriteSharks(o.object, ctx.evacuated, dest);
    } catch (err) {
      if (err instanceof BadObjectError) continue;
      throw err;
    }
    const group = groups.get(`${o.tier}:${o.shard}`) ?? {
      tier: o.tier,
      shard: o.shard,
      updates: [],
    };
    const update = { shard: o.shard, key: o.key, etag: o.etag, value, previous: o.object };
    group.updates.push(update);
    ids.set(update, o.id);
    groups.set(`${o.tier}:${o.shard}`, group);
  }
  await Promise.all(
    [...groups.values()].map(({ tier, shard, updates }) =>
      ctx.mdLimit.run(async () => {
        let left: ReadonlySet<MetadataUpdate>;
        const paced = ctx.pacing.metadata.take(tier, shard, updates.length, ctx.signal);
        if (paced) await paced;
        try {
          left = new Set(await ctx.deps.metadata.putBatch(shard, updates, ctx.signal));
          ctx.blockers.clear(shardSource(tier, shard));
        } catch (err) {
          ctx.signal.throwIfAborted();
          ctx.deps.log.info(
            { err, tier, shard, objects: updates.length },
            'batched metadata update failed; updating the objects one by one',
          );
          return;
        }
        for (const u of updates)
          if (!left.has(u)) done.set(ids.get(u) as string, { status: 'complete' });
        if (left.size > 0) {
          ctx.deps.log.info(
            { tier, shard, objects: left.size },
            'objects the batch did not update: updating them one by one',
          );
        }
      }),
    ),
  );
  return done;
}

/** Rewrites one object's record, etag-conditionally, retrying transient failures. */
function updateOne(
  ctx: EvacuateContext,
  o: AssignedObject,
  dest: StorageNode,
): Promise<UpdateResult> {
  return ctx.records.update(o, dest, {
    // Another job may have started evacuating the destination since placement: never name it.
    destAllowed: () => !isEvacuated(ctx, dest.manta_storage_id),
    placeAgain: () => ctx.placeAgain.allow(o.id),
  });
}
