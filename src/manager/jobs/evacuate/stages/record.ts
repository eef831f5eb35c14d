/**
 * Recording (manager.md §4.11): each discovered batch is written to the store with its
 * checkpoint in one transaction (duplicates apart), the objects discovery skipped get their
 * reasons, malformed records become errors, and the recorded objects go on to placement. A
 * resumed run first hands placement the objects an earlier run recorded but never placed.
 * After the batch that ends discovery the job is marked discovered: its totals are exact.
 */
import type { BoundedQueue } from '../../../../async/index.ts';
import { type SkipReasonDb, skipReasonLabel } from '../../../store/index.ts';
import type { EvacuateContext, PlacedObject } from '../context.ts';
import type { RecordBatch } from '../types.ts';

export async function record(
  ctx: EvacuateContext,
  input: BoundedQueue<RecordBatch>,
  out: BoundedQueue<PlacedObject>,
): Promise<void> {
  const { store, log, metrics } = ctx.deps;
  let after: string | undefined;
  for (;;) {
    const page = await store.objectsByStatus(
      ctx.jobId,
      'unprocessed',
      after,
      ctx.settings.storePage,
    );
    if (page.length === 0) break;
    after = page[page.length - 1]?.id;
    for (const o of page) await out.push({ id: o.id, object: o.object });
  }
  for await (const batch of input) {
    const skipped = batch.skipped.map((s) => s.object);
    const result = await store.recordDiscovered(
      ctx.jobId,
      [...batch.objects, ...skipped],
      batch.checkpoint,
    );
    const recorded = new Set(result.recorded.map((o) => o.id));
    const byReason = new Map<SkipReasonDb, string[]>();
    for (const { object, reason } of batch.skipped) {
      if (!recorded.has(object.id)) continue;
      byReason.set(reason, [...(byReason.get(reason) ?? []), object.id]);
    }
    if (byReason.size > 0) {
      await store.transition(
        ctx.jobId,
        [...byReason].map(([reason, ids]) => ({
          select: { ids },
          from: 'unprocessed' as const,
          to: { status: 'skipped' as const, reason },
        })),
      );
      for (const [reason, ids] of byReason)
        metrics.objectSkips(skipReasonLabel(reason), ids.length);
    }
    for (const m of batch.malformed) {
      const tier = m.tier ?? 'moray';
      // Shard numbers of the tiers overlap: a v2 one is named apart.
      const id =
        tier === 'moray'
          ? `malformed:${m.shard}:${m.key}`
          : `malformed:${tier}:${m.shard}:${m.key}`;
      const where = { id, key: m.key, shard: m.shard, tier };
      await store.recordFailed(ctx.jobId, where, 'bad_manta_object', m.problem);
      log.warn({ tier, shard: m.shard, key: m.key, problem: m.problem }, 'malformed record');
    }
    const skippedIds = new Set(skipped.map((o) => o.id));
    for (const o of result.recorded) {
      if (!skippedIds.has(o.id)) await out.push({ id: o.id, object: o.object });
    }
    if (batch.ended) await discovered(ctx, batch.ended.objects);
  }
}

/** Discovery ended and all it found is recorded (a run resumed after that says nothing). */
async function discovered(ctx: EvacuateContext, objects: number): Promise<void> {
  const { store } = ctx.deps;
  if ((await store.getJob(ctx.jobId))?.discoveredAt !== undefined) return;
  await store.setJobDiscovered(ctx.jobId);
  await store.recordJobEvent(ctx.jobId, 'discovery_complete', { objects });
}
