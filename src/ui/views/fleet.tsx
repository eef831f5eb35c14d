/**
 * The fleet: every shark by datacenter, how full it is against the fill limit, whether a job
 * evacuates it or placement leaves it out, and what each datacenter can still take. From here
 * an operator audits a shark or starts planning its evacuation.
 */

import type { Fleet } from '../../api/fleet.ts';
import { api } from '../api.ts';
import { ProgressBar } from '../components/progress-bar.tsx';
import { megabytes, shortId, time } from '../format.ts';
import { usePoll } from '../poll.ts';
import { act } from '../problems.ts';
import { navigate } from '../router.ts';

type FleetShark = Fleet['sharks'][number];

/** The sharks of each datacenter, in the manager's order (by name, then storage id). */
function byDatacenter(list: Fleet): [string, FleetShark[]][] {
  const groups = new Map<string, FleetShark[]>();
  for (const dc of list.datacenters) groups.set(dc.datacenter, []);
  for (const shark of list.sharks) {
    const group = groups.get(shark.datacenter) ?? [];
    group.push(shark);
    groups.set(shark.datacenter, group);
  }
  return [...groups];
}

async function audit(shark: string): Promise<void> {
  const id = await act(() => api.audit({ shark }));
  if (id !== undefined) navigate({ view: 'job', id });
}

function SharkRow({ shark, limit }: { shark: FleetShark; limit: number }) {
  const id = shark.manta_storage_id;
  return (
    <tr data-shark={id}>
      <th scope="row" class="mono">
        {id}
      </th>
      <td class="fill">
        <ProgressBar
          label={`Fill of ${id}`}
          value={shark.percent_used}
          max={100}
          text={`${shark.percent_used}% used`}
          mark={limit}
          warn={shark.percent_used >= limit}
        />
      </td>
      <td class="num">{megabytes(shark.available_mb)}</td>
      <td>
        {shark.evacuating === null ? null : (
          <a class="flag evacuating" href={`#/jobs/${shark.evacuating}`}>
            Evacuating (job {shortId(shark.evacuating)})
          </a>
        )}
        {shark.blocked ? <span class="flag blocked">Blocked</span> : null}
      </td>
      <td class="actions">
        <button type="button" onClick={() => void audit(id)}>
          Audit<span class="visually-hidden"> {id}</span>
        </button>
        <a href={`#/new?${new URLSearchParams({ shark: id })}`}>
          Evacuate<span class="visually-hidden"> {id}</span>…
        </a>
      </td>
    </tr>
  );
}

function Datacenter(props: {
  name: string;
  sharks: FleetShark[];
  dc?: Fleet['datacenters'][number];
  limit: number;
}) {
  const { name, sharks, dc, limit } = props;
  const headingId = `dc-${name}`;
  return (
    <section class="card" data-datacenter={name} aria-labelledby={headingId}>
      <h2 id={headingId}>
        {name}
        {dc ? (
          <span class="sub">
            {' '}
            {dc.sharks} sharks · {megabytes(dc.available_mb)} available ·{' '}
            {megabytes(dc.capacity_left_mb)} left under the fill limit
          </span>
        ) : null}
      </h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Shark</th>
            <th scope="col">Fill</th>
            <th scope="col" class="num">
              Available
            </th>
            <th scope="col">Flags</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {sharks.map((shark) => (
            <SharkRow key={shark.manta_storage_id} shark={shark} limit={limit} />
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function FleetView() {
  const { data } = usePoll('sharks', (signal) => api.sharks(signal), []);
  if (data === undefined) return <p>Loading the fleet…</p>;
  const dcs = new Map(data.datacenters.map((dc) => [dc.datacenter, dc]));
  return (
    <>
      <p class="lede">
        {data.sharks.length} sharks in {dcs.size} datacenters · fill limit{' '}
        {data.max_fill_percentage}% ·{' '}
        {data.fetched_at === null
          ? 'storinfo not read yet'
          : `storinfo read ${time(data.fetched_at)}`}
      </p>
      {byDatacenter(data).map(([name, sharks]) => (
        <Datacenter
          key={name}
          name={name}
          sharks={sharks}
          dc={dcs.get(name)}
          limit={data.max_fill_percentage}
        />
      ))}
    </>
  );
}
