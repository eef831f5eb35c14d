/**
 * What a running job's agents and metadata shards do now: per agent, its throughput and how
 * much waits for it (queued here, posted to it, tasks on it); per metadata shard, the update
 * rate against the job's budget. A slow agent or a shard at its budget is where to look.
 */

import type { JobActivity } from '../../api/console.ts';
import { bytes, count, rate } from '../format.ts';

export function ActivityCard({ activity }: { activity: JobActivity }) {
  const agents = [...activity.agents].sort((a, b) =>
    a.manta_storage_id.localeCompare(b.manta_storage_id),
  );
  return (
    <section class="card" aria-labelledby="activity-heading" data-testid="activity">
      <h2 id="activity-heading">Activity</h2>
      <table>
        <caption>Agents</caption>
        <thead>
          <tr>
            <th scope="col">Agent (destination shark)</th>
            <th scope="col">Datacenter</th>
            <th scope="col" class="num">
              Objects done
            </th>
            <th scope="col" class="num">
              Objects/s
            </th>
            <th scope="col" class="num">
              Bytes/s
            </th>
            <th scope="col" class="num">
              Assignments queued
            </th>
            <th scope="col" class="num">
              Assignments on agent
            </th>
            <th scope="col" class="num">
              Tasks on agent
            </th>
          </tr>
        </thead>
        <tbody>
          {agents.length === 0 ? (
            <tr>
              <td colSpan={8}>No agent is working for this job now.</td>
            </tr>
          ) : (
            agents.map((a) => (
              <tr key={a.manta_storage_id}>
                <th scope="row" class="mono">
                  {a.manta_storage_id}
                </th>
                <td>{a.datacenter}</td>
                <td class="num">{count(a.objects_done)}</td>
                <td class="num">{rate(a.objects_per_second)}</td>
                <td class="num">{bytes(a.bytes_per_second)}/s</td>
                <td class="num">{count(a.assignments_queued)}</td>
                <td class="num">{count(a.assignments_on_agent)}</td>
                <td class="num">{count(a.tasks_on_agent)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      <table>
        <caption>Metadata shards</caption>
        <thead>
          <tr>
            <th scope="col">Shard</th>
            <th scope="col" class="num">
              Updates/s
            </th>
            <th scope="col">Against the budget</th>
          </tr>
        </thead>
        <tbody>
          {activity.metadata_shards.length === 0 ? (
            <tr>
              <td colSpan={3}>No metadata update is being made now.</td>
            </tr>
          ) : (
            activity.metadata_shards.map((s) => (
              <tr key={`${s.tier}/${s.shard}`}>
                <th scope="row">
                  {s.tier} {s.shard}
                </th>
                <td class="num">{rate(s.updates_per_second)}</td>
                <td>
                  {s.budget === null ? (
                    'unlimited'
                  ) : (
                    <>
                      <meter
                        min={0}
                        max={s.budget}
                        high={s.budget * 0.9}
                        value={s.updates_per_second}
                        aria-label={`${s.tier} shard ${s.shard}: ${rate(s.updates_per_second)} of ${count(s.budget)} updates/s`}
                      />{' '}
                      {rate(s.updates_per_second)} of {count(s.budget)}/s
                    </>
                  )}
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </section>
  );
}
