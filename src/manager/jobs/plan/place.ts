/**
 * A dry run's placement: every recorded object still unprocessed, paged from the store, gets a
 * destination by the rules a real run applies (evacuate/stages/assign.ts: the source copy, the
 * picker, the sharks to avoid). What cannot move is skipped in the store with its reason, so the
 * job's `skip_breakdown` lists it; what can move stays unprocessed and its bytes are added to one
 * aggregate reservation per destination, so later choices see the fill as a real run's would.
 * Memory follows the destinations and metadata shards, never the objects.
 */
import type { SingleCopies } from '../../../api/manager.ts';
import { sleep } from '../../../async/index.ts';
import type {
  DestinationPicker,
  PlacementDecision,
  PlacementObject,
  Reservations,
  StorinfoNode,
} from '../../../storinfo/index.ts';
import type { ManagerStore } from '../../store/index.ts';
import { BadObjectError, objectFacts, sourceCopy } from '../evacuate/object.ts';
import { PendingOutcomes } from '../evacuate/outcomes.ts';
import type { EvacuateSettings } from '../evacuate/types.ts';

export type PlacementSettings = Pick<
  EvacuateSettings,
  'storePage' | 'outcomeBatch' | 'waitForDestinationsMs'
>;

export interface PlanPlacementOptions {
  jobId: string;
  evacuated: string;
  /** Objects whose only copy is on the evacuated shark: planned to move from it, or skipped. */
  singleCopies: SingleCopies;
  store: ManagerStore;
  reservations: Reservations;
  /** The job's picker under the current config: asked again for every page. */
  picker: () => DestinationPicker;
  /** Sharks that may never be destinations now (being evacuated by running jobs). */
  never: () => ReadonlySet<string>;
  settings: PlacementSettings;
  signal: AbortSignal;
  /** The job was cancelled: placement stops. */
  stopped: () => boolean;
  /** Placement waits for a usable storinfo snapshot (since when), or no longer (undefined). */
  waiting: (since: number | undefined) => void;
}

export interface Amount {
  objects: number;
  bytes: number;
}

export interface PlannedDestination extends Amount {
  /** The shark's storinfo record at its latest choice. */
  node: StorinfoNode;
}

/** What placement found movable: in all, by tier, by destination and by metadata shard. */
export interface Placed {
  move: Amount & { v1: Amount; v2: Amount };
  destinations: Map<string, PlannedDestination>;
  /** Objects per metadata shard (`tier:shard`): their updates bound the estimate. */
  shards: Map<string, number>;
}

/** The aggregate reservation of a plan's copies to `shark`, and the plan's group. */
export const planGroup = (jobId: string): string => `plan:${jobId}`;
const planKey = (jobId: string, shark: string): string => `plan:${jobId}:${shark}`;

const amount = (): Amount => ({ objects: 0, bytes: 0 });

/** Places every unprocessed object; the result, or undefined when cancelled. */
export async function placePlan(o: PlanPlacementOptions): Promise<Placed | undefined> {
  const placed: Placed = {
    move: { ...amount(), v1: amount(), v2: amount() },
    destinations: new Map(),
    shards: new Map(),
  };
  const outcomes = new PendingOutcomes({
    jobId: o.jobId,
    store: o.store,
    metrics: undefined,
    outcomeBatch: o.settings.outcomeBatch,
  });
  let after: string | undefined;
  for (;;) {
    o.signal.throwIfAborted();
    if (o.stopped()) return undefined;
    const page = await o.store.objectsByStatus(o.jobId, 'unprocessed', after, o.settings.storePage);
    if (page.length === 0) break;
    after = page[page.length - 1]?.id;
    const picker = o.picker();
    for (const stored of page) {
      o.signal.throwIfAborted();
      if (o.stopped()) {
        await outcomes.flush();
        return undefined;
      }
      if (stored.object === undefined) {
        outcomes.error(stored.id, new BadObjectError('bad_manta_object', 'no usable record'));
        continue;
      }
      const facts = objectFacts(stored.object);
      if (!sourceCopy(facts, o.evacuated, { fromEvacuated: o.singleCopies === 'copy' })) {
        outcomes.skip(stored.id, 'source_is_evac_shark');
        continue;
      }
      const request = { sharks: facts.sharks, sizeBytes: facts.sizeBytes };
      let decision = pick(picker, request, o);
      let since: number | undefined;
      // No snapshot yet (or every node filtered out): wait as a real run does, never skip.
      // (`defer` needs sharks to avoid for now, which a plan has none of.)
      while (decision.outcome === 'no_destinations' || decision.outcome === 'defer') {
        await outcomes.flush();
        since ??= Date.now();
        o.waiting(since);
        await sleep(o.settings.waitForDestinationsMs, o.signal);
        if (o.stopped()) return undefined;
        decision = pick(picker, request, o);
      }
      if (since !== undefined) o.waiting(undefined);
      if (decision.outcome === 'skip') {
        outcomes.skip(stored.id, decision.reason);
      } else {
        const shark = decision.shark.manta_storage_id;
        o.reservations.add(planKey(o.jobId, shark), shark, facts.sizeBytes, planGroup(o.jobId));
        count(placed, stored.tier, stored.shard, decision.shark, facts.sizeBytes);
      }
      if (outcomes.full) await outcomes.flush();
    }
  }
  await outcomes.flush();
  return placed;
}

function pick(
  picker: DestinationPicker,
  request: PlacementObject,
  o: PlanPlacementOptions,
): PlacementDecision {
  const never = new Set(o.never());
  never.add(o.evacuated);
  return picker.pick(request, { never });
}

function count(p: Placed, tier: string, shard: number, node: StorinfoNode, bytes: number): void {
  const add = (a: Amount) => {
    a.objects++;
    a.bytes += bytes;
  };
  add(p.move);
  add(tier === 'buckets' ? p.move.v2 : p.move.v1);
  const dest = p.destinations.get(node.manta_storage_id);
  if (dest) {
    dest.node = node;
    add(dest);
  } else p.destinations.set(node.manta_storage_id, { node, objects: 1, bytes });
  const key = `${tier}:${shard}`;
  p.shards.set(key, (p.shards.get(key) ?? 0) + 1);
}
