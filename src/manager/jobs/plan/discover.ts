/**
 * A dry run's discovery, recorded exactly as a real run records it (evacuate/stages/discover.ts
 * and record.ts): each batch with its shard's checkpoint in one store transaction (so snaplink
 * duplicates are set apart the same way, and a plan interrupted by a restart resumes after its
 * checkpoints), objects kept out by `exclude_key_prefixes` recorded and skipped, malformed
 * records recorded as errors under the same ids, and `max_objects` counting what an earlier run
 * of the job found too. Memory holds one batch.
 */
import type { StorageNode } from '../../../api/common.ts';
import type { Logger } from '../../../log/index.ts';
import type {
  DiscoveredObject,
  DiscoveryCheckpoint,
  ManagerStore,
  MetadataTier,
  RecordedObject,
} from '../../store/index.ts';
import type { ObjectSource } from '../evacuate/types.ts';

export interface PlanDiscovery {
  jobId: string;
  fromShark: StorageNode;
  store: ManagerStore;
  source: ObjectSource;
  maxObjects: number | null;
  /** Objects recorded in one store transaction. */
  recordBatch: number;
  /** Aborted when the run fails or is stopped. */
  signal: AbortSignal;
  /** Aborted when the job is cancelled: the scan ends, what was found so far is kept. */
  intake: AbortSignal;
  log: Logger;
}

interface Malformed {
  tier?: MetadataTier;
  shard: number;
  key: string;
  problem: string;
}

interface Batch {
  objects: DiscoveredObject[];
  excluded: RecordedObject[];
  malformed: Malformed[];
  checkpoint: DiscoveryCheckpoint | undefined;
}

const emptyBatch = (): Batch => ({
  objects: [],
  excluded: [],
  malformed: [],
  checkpoint: undefined,
});

/** Scans and records; true when discovery ended (every shard read), false when cancelled. */
export async function discoverPlan(d: PlanDiscovery): Promise<boolean> {
  const { store } = d;
  const counts = await store.counts(d.jobId);
  let received = counts
    .filter((c) => c.bucket === 'status' || c.bucket === 'duplicates')
    .reduce((s, c) => s + c.count, 0);
  let batch = emptyBatch();
  const flush = async () => {
    const b = batch;
    batch = emptyBatch();
    if (b.objects.length + b.excluded.length + b.malformed.length > 0 || b.checkpoint) {
      await recordBatch(d, b);
    }
  };
  const events = d.source.scan({
    shark: d.fromShark,
    resume: await store.loadCheckpoints(d.jobId),
    signal: AbortSignal.any([d.signal, d.intake]),
  });
  try {
    for await (const event of events) {
      if (d.intake.aborted) return false;
      if (event.kind === 'checkpoint') {
        batch.checkpoint = event.checkpoint;
        await flush();
        continue;
      }
      if (event.kind === 'object') {
        if (d.maxObjects !== null && received >= d.maxObjects) break;
        received++;
        batch.objects.push(event.object);
      } else if (event.kind === 'excluded') batch.excluded.push(event.object);
      else batch.malformed.push(event);
      if (batch.objects.length + batch.excluded.length >= d.recordBatch) await flush();
    }
  } catch (err) {
    if (d.intake.aborted && !d.signal.aborted) return false;
    throw err;
  }
  await flush();
  if (d.intake.aborted) return false;
  await store.setJobDiscovered(d.jobId);
  const found = (await store.counts(d.jobId))
    .filter((c) => c.bucket === 'status')
    .reduce((s, c) => s + c.count, 0);
  await store.recordJobEvent(d.jobId, 'discovery_complete', { objects: found });
  return true;
}

async function recordBatch(d: PlanDiscovery, b: Batch): Promise<void> {
  const { store, jobId } = d;
  const result = await store.recordDiscovered(jobId, [...b.objects, ...b.excluded], b.checkpoint);
  if (b.excluded.length > 0) {
    const excluded = new Set(b.excluded.map((o) => o.id));
    const ids = result.recorded.filter((o) => excluded.has(o.id)).map((o) => o.id);
    if (ids.length > 0) {
      await store.transition(jobId, [
        {
          select: { ids },
          from: 'unprocessed',
          to: { status: 'skipped', reason: 'excluded_key_prefix' },
        },
      ]);
    }
  }
  for (const m of b.malformed) {
    const tier = m.tier ?? 'moray';
    // The ids a real run gives them (record.ts): shard numbers of the tiers overlap.
    const id =
      tier === 'moray' ? `malformed:${m.shard}:${m.key}` : `malformed:${tier}:${m.shard}:${m.key}`;
    await store.recordFailed(
      jobId,
      { id, key: m.key, shard: m.shard, tier },
      'bad_manta_object',
      m.problem,
    );
    d.log.warn({ tier, shard: m.shard, key: m.key, problem: m.problem }, 'malformed record');
  }
}
