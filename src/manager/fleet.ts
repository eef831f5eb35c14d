/**
 * The storage fleet for the console (issue 17, `GET /sharks`): storinfo's latest snapshot, each
 * shark marked with the evacuation emptying it and whether placement may use it, and per
 * datacenter what placement could still put there. Placement's settings are read from the
 * current config at each request, so a reloaded blocklist or fill limit shows at once.
 */
import type { Fleet } from '../api/fleet.ts';
import { fillLimitedCapacityMb, type StorinfoSnapshot } from '../storinfo/index.ts';
import type { ManagerConfig } from './config.ts';
import type { ManagerStore } from './store/index.ts';

/** The placement settings the picker uses (src/manager/environment.ts). */
export interface FleetPlacement {
  readonly maxFillPercentage: number;
  readonly blockedSharks: readonly string[];
  readonly blockedDatacenters: readonly string[];
}

export interface FleetSource {
  /** storinfo's latest snapshot; none before its first answer. */
  snapshot(): StorinfoSnapshot | undefined;
  placement(): FleetPlacement;
}

/** A fleet source over the storinfo poller and the current (reloadable) config. */
export function configFleetSource(
  snapshot: () => StorinfoSnapshot | undefined,
  config: () => ManagerConfig,
): FleetSource {
  return {
    snapshot,
    placement: () => {
      const c = config();
      return {
        maxFillPercentage: c.max_fill_percentage,
        blockedSharks: c.options.blocklist,
        blockedDatacenters: c.options.blocked_datacenters,
      };
    },
  };
}

export async function readFleet(source: FleetSource, store: ManagerStore): Promise<Fleet> {
  const placement = source.placement();
  const snapshot = source.snapshot();
  // A dry run or an audit empties nothing; a job setting up has not started to.
  const evacuating = new Map<string, string>();
  for (const job of await store.jobsInStates(['running', 'paused'])) {
    if (job.action !== 'evacuate' || job.dryRun) continue;
    const shark = job.fromShark.manta_storage_id;
    if (!evacuating.has(shark)) evacuating.set(shark, job.id);
  }
  const blockedSharks = new Set(placement.blockedSharks);
  const blockedDatacenters = new Set(placement.blockedDatacenters);
  const sharks = [...(snapshot?.nodes ?? [])]
    .sort(
      (a, b) =>
        compare(a.datacenter, b.datacenter) || compare(a.manta_storage_id, b.manta_storage_id),
    )
    .map((n) => ({
      manta_storage_id: n.manta_storage_id,
      datacenter: n.datacenter,
      percent_used: n.percentUsed,
      available_mb: n.availableMB,
      timestamp: n.timestamp,
      evacuating: evacuating.get(n.manta_storage_id) ?? null,
      blocked: blockedSharks.has(n.manta_storage_id) || blockedDatacenters.has(n.datacenter),
    }));
  const datacenters = new Map<string, Fleet['datacenters'][number]>();
  for (const s of sharks) {
    let dc = datacenters.get(s.datacenter);
    if (dc === undefined) {
      dc = { datacenter: s.datacenter, sharks: 0, available_mb: 0, capacity_left_mb: 0 };
      datacenters.set(s.datacenter, dc);
    }
    dc.sharks++;
    dc.available_mb += s.available_mb;
    if (!s.blocked && s.evacuating === null) {
      // The picker's own arithmetic: size from percent used and free, up to the fill limit.
      dc.capacity_left_mb += fillLimitedCapacityMb(
        s.available_mb,
        s.percent_used,
        placement.maxFillPercentage,
      );
    }
  }
  return {
    fetched_at: snapshot === undefined ? null : new Date(snapshot.fetchedAt).toISOString(),
    max_fill_percentage: placement.maxFillPercentage,
    sharks,
    // Sharks are sorted by datacenter, so the datacenters come out in order.
    datacenters: [...datacenters.values()],
  };
}

/** Code-point order, the same on every machine (not the locale's). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
