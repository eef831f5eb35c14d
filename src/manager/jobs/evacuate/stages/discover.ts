/**
 * Discovery (manager.md §4.3): the objects with a copy on the evacuated shark, from the
 * shards, resuming after the job's checkpoints, in batches for the recording stage; or, for a
 * retry job, what the previous job left unfinished, re-read live (retry.ts). `max_objects`
 * (§4.17) counts what an earlier run of the job found too. A cancel ends the scan: what was
 * found so far is the job's. A scan that ends on its own says so with its last batch, and the
 * recording stage marks the job discovered once that batch is written.
 */
import type { BoundedQueue } from '../../../../async/index.ts';
import type { EvacuateContext } from '../context.ts';
import { retryBatches } from '../retry.ts';
import type { RecordBatch } from '../types.ts';

const emptyBatch = (): RecordBatch => ({
  objects: [],
  skipped: [],
  malformed: [],
  checkpoint: undefined,
});

export async function discover(
  ctx: EvacuateContext,
  out: BoundedQueue<RecordBatch>,
): Promise<void> {
  if (ctx.retryOf !== undefined) return discoverRetry(ctx, ctx.retryOf, out);
  const { store, source } = ctx.deps;
  const counts = await store.counts(ctx.jobId);
  let received = counts
    .filter((c) => c.bucket === 'status' || c.bucket === 'duplicates')
    .reduce((s, c) => s + c.count, 0);
  const max = ctx.settings.maxObjects;
  const checkpoints = await store.loadCheckpoints(ctx.jobId);
  let batch = emptyBatch();
  const flush = async () => {
    if (
      batch.objects.length + batch.skipped.length + batch.malformed.length > 0 ||
      batch.checkpoint
    ) {
      await out.push(batch);
    }
    batch = emptyBatch();
  };
  const events = source.scan({
    shark: ctx.fromShark,
    resume: checkpoints,
    signal: AbortSignal.any([ctx.signal, ctx.intake]),
  });
  try {
    for await (const event of events) {
      if (ctx.draining()) return;
      if (event.kind === 'checkpoint') {
        batch.checkpoint = event.checkpoint;
        await flush();
        continue;
      }
      if (event.kind === 'object') {
        if (max !== null && received >= max) break;
        received++;
        batch.objects.push(event.object);
      } else if (event.kind === 'excluded') {
        batch.skipped.push({ object: event.object, reason: 'excluded_key_prefix' });
      } else batch.malformed.push(event);
      if (batch.objects.length + batch.skipped.length >= ctx.settings.recordBatch) await flush();
    }
  } catch (err) {
    if (ctx.draining() && !ctx.signal.aborted) return;
    throw err;
  }
  await flush();
  await ended(ctx, out, received);
}

/**
 * A scan that ran to its end (or to max_objects) found all the job will have. One cut short by
 * a cancel or a stop found only part of it: it says nothing.
 */
async function ended(
  ctx: EvacuateContext,
  out: BoundedQueue<RecordBatch>,
  objects: number,
): Promise<void> {
  if (ctx.draining() || ctx.signal.aborted) return;
  await out.push({ ...emptyBatch(), ended: { objects } });
}

/** A retry job's objects: what the previous job left unfinished, re-read live (§4.13). */
async function discoverRetry(
  ctx: EvacuateContext,
  previous: string,
  out: BoundedQueue<RecordBatch>,
): Promise<void> {
  const batches = retryBatches({
    page: (status, after) =>
      ctx.deps.store.objectsByStatus(previous, status, after, ctx.settings.storePage),
    readLive: (ref) => ctx.records.readLive(ref),
    excluded: (key) => ctx.deps.source.excludes(key),
    evacuated: ctx.evacuated,
    stopped: () => ctx.draining(),
  });
  let objects = 0;
  for await (const batch of batches) {
    objects += batch.objects.length;
    await out.push(batch);
  }
  await ended(ctx, out, objects);
}
