/**
 * What a job's agents and the metadata shards are doing now (issue 17, `GET /jobs/:uuid/
 * activity`): the job's assignments summed per agent, and the fleet-wide metadata budgets
 * every job shares, read as the metrics gauges read them.
 */
import type { JobActivity } from '../../api/console.ts';
import type { ShardBudgetReading } from '../metrics.ts';
import type { ManagerStore } from '../store/index.ts';

/** The agents' rates are over this last stretch. */
const ACTIVITY_WINDOW_MS = 60_000;

export async function jobActivity(
  store: ManagerStore,
  jobId: string,
  budgets: readonly ShardBudgetReading[],
  windowMs = ACTIVITY_WINDOW_MS,
): Promise<JobActivity> {
  const seconds = windowMs / 1000;
  const agents = await store.assignmentsPerAgent(jobId, windowMs);
  return {
    agents: agents.map((a) => ({
      manta_storage_id: a.destShark,
      datacenter: a.destDatacenter,
      assignments_queued: a.queued,
      assignments_on_agent: a.onAgent,
      tasks_on_agent: a.tasksOnAgent,
      objects_done: a.objectsDone,
      objects_per_second: a.recentObjects / seconds,
      bytes_per_second: a.recentBytes / seconds,
    })),
    metadata_shards: [...budgets]
      .sort((a, b) => a.tier.localeCompare(b.tier) || a.shard - b.shard)
      .map((r) => ({
        tier: r.tier,
        shard: r.shard,
        updates_per_second: r.perSecond,
        budget: r.budget,
      })),
  };
}
