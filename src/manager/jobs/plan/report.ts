/**
 * A dry run's plan from what its placement found and what the store holds: what moves, what
 * cannot and why (read back from the store, so a plan resumed after a restart counts what an
 * earlier run skipped too), each destination's fill before and after, each datacenter's room
 * under the fill limit before and after, and the estimate at the job's limits.
 */
import type { JobLimits } from '../../../api/limits.ts';
import type { JobPlan, PlanDatacenter, PlanDestination } from '../../../api/plan.ts';
import {
  type DestinationPicker,
  fillLimitedCapacityBytes,
  MIB,
  type Reservations,
  type StorinfoNode,
} from '../../../storinfo/index.ts';
import type { JobRecord, ManagerStore } from '../../store/index.ts';
import { estimateDuration } from './estimate.ts';
import type { Placed } from './place.ts';

export interface PlanInputs {
  job: JobRecord;
  store: ManagerStore;
  placed: Placed;
  /** The picker of the plan's last choices: its snapshot and fill limit. */
  picker: DestinationPicker;
  /** Still holding the plan's reservations. */
  reservations: Reservations;
  /** Sharks that are no destinations now (being evacuated). */
  never: ReadonlySet<string>;
  limits: JobLimits;
  storePage: number;
  now?: Date;
}

export async function buildPlan(i: PlanInputs): Promise<JobPlan> {
  const { placed } = i;
  const destinations: PlanDestination[] = [...placed.destinations.values()]
    .map(({ node, objects, bytes }) => ({
      manta_storage_id: node.manta_storage_id,
      datacenter: node.datacenter,
      objects,
      bytes,
      fill_before_percent: fillPercent(node, 0),
      fill_after_percent: fillPercent(node, bytes),
    }))
    .sort((a, b) => compare(a.manta_storage_id, b.manta_storage_id));
  return {
    job_id: i.job.id,
    from_shark: i.job.fromShark.manta_storage_id,
    move: placed.move,
    cannot_move: await cannotMove(i.store, i.job.id, i.storePage),
    destinations,
    datacenters: datacenters(i, destinations),
    ...estimateDuration(i.limits, placed.move, placed.shards.values()),
    created_at: (i.now ?? new Date()).toISOString(),
  };
}

/**
 * Percent used of the node's filesystem with `extra` bytes more. storinfo gives free MiB and
 * percent used, so total = free·100/(100−used%); a full node (100%) stays 100, and a node
 * reporting no free MiB keeps its reported percentage.
 */
export function fillPercent(node: StorinfoNode, extra: number): number {
  const free = 100 - node.percentUsed;
  if (free <= 0) return 100;
  const totalBytes = ((node.availableMB * 100) / free) * MIB;
  if (totalBytes <= 0) return node.percentUsed;
  const usedBytes = totalBytes - node.availableMB * MIB + extra;
  return Math.round((usedBytes / totalBytes) * 10_000) / 100;
}

/** Skipped objects by skip reason and failed ones by error, with their bytes. */
async function cannotMove(
  store: ManagerStore,
  jobId: string,
  pageSize: number,
): Promise<JobPlan['cannot_move']> {
  const out: JobPlan['cannot_move'] = { objects: 0, bytes: 0, reasons: {} };
  for (const status of ['skipped', 'error'] as const) {
    let after: string | undefined;
    for (;;) {
      const page = await store.objectsByStatus(jobId, status, after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1]?.id;
      for (const o of page) {
        const reason = (status === 'skipped' ? o.skippedReason : o.error) ?? status;
        const bytes = o.object?.contentLength ?? 0;
        const entry = out.reasons[reason] ?? { objects: 0, bytes: 0 };
        out.reasons[reason] = entry;
        entry.objects++;
        entry.bytes += bytes;
        out.objects++;
        out.bytes += bytes;
      }
    }
  }
  return out;
}

/**
 * Per datacenter, the plan's copies and the bytes its eligible sharks may take under the fill
 * limit: before (net of every other reservation) and after the plan's.
 */
function datacenters(i: PlanInputs, destinations: readonly PlanDestination[]): PlanDatacenter[] {
  const byDc = new Map<string, PlanDatacenter>();
  const dc = (name: string): PlanDatacenter => {
    let entry = byDc.get(name);
    if (!entry) {
      entry = {
        datacenter: name,
        objects: 0,
        bytes: 0,
        available_bytes_before: 0,
        available_bytes_after: 0,
      };
      byDc.set(name, entry);
    }
    return entry;
  };
  for (const d of destinations) {
    const entry = dc(d.datacenter);
    entry.objects += d.objects;
    entry.bytes += d.bytes;
  }
  for (const node of i.picker.destinations()) {
    const id = node.manta_storage_id;
    if (i.never.has(id) || id === i.job.fromShark.manta_storage_id) continue;
    const ours = i.placed.destinations.get(id)?.bytes ?? 0;
    const others = Math.max(0, i.reservations.reservedBytes(id) - ours);
    const before = Math.max(0, fillLimitedCapacityBytes(node, i.picker.maxFillPercentage) - others);
    const entry = dc(node.datacenter);
    entry.available_bytes_before += before;
    entry.available_bytes_after += Math.max(0, before - ours);
  }
  return [...byDc.values()].sort((a, b) => compare(a.datacenter, b.datacenter));
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
