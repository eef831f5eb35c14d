/**
 * Every job the manager knows: the unfinished ones first, with how far they are, how fast they
 * go, when they should end, and whether they are stalled; then the finished ones.
 */
import type { JobListEntry } from '../../api/manager.ts';
import { FINAL_JOB_STATE_NAMES } from '../../api/manager.ts';
import { api } from '../api.ts';
import { ProgressBar } from '../components/progress-bar.tsx';
import { bytes, count, duration, percent, rate, shortId } from '../format.ts';
import { usePoll } from '../poll.ts';

function JobRow({ job }: { job: JobListEntry }) {
  const p = job.progress;
  return (
    <tr data-job={job.id}>
      <th scope="row">
        <a class="mono" href={`#/jobs/${job.id}`} title={job.id}>
          {shortId(job.id)}
        </a>
      </th>
      <td>{job.action}</td>
      <td class="mono">{job.from_shark ?? '—'}</td>
      <td>
        <span class={`state state-${job.state.toLowerCase()}`}>{job.state}</span>
        {p?.stalled ? (
          <span class="flag stalled" title={p.stalled.reason}>
            Stalled
          </span>
        ) : null}
      </td>
      <td class="fill">
        {p ? (
          <ProgressBar
            label={`Progress of job ${shortId(job.id)}`}
            value={p.objects_done}
            max={p.objects_total}
            text={`${count(p.objects_done)} of ${p.total_is_estimate ? 'about ' : ''}${count(p.objects_total)} (${percent(p.objects_done, p.objects_total)})`}
          />
        ) : (
          '—'
        )}
      </td>
      <td class="num">
        {p ? `${rate(p.objects_per_second)} obj/s · ${bytes(p.bytes_per_second)}/s` : '—'}
      </td>
      <td class="num">{p?.eta_seconds == null ? '—' : duration(p.eta_seconds)}</td>
    </tr>
  );
}

function JobTable({ title, jobs }: { title: string; jobs: JobListEntry[] }) {
  const id = `jobs-${title.toLowerCase()}`;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>
        {title} <span class="sub">({jobs.length})</span>
      </h2>
      {jobs.length === 0 ? (
        <p>None.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Action</th>
              <th scope="col">Shark</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">
                Rate
              </th>
              <th scope="col" class="num">
                ETA
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <JobRow key={job.id} job={job} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function JobsView() {
  const { data } = usePoll('jobs', (signal) => api.jobs(signal), []);
  if (data === undefined) return <p>Loading the jobs…</p>;
  // The manager lists jobs oldest first; the latest finished one is what an operator looks for.
  const finished = data.filter((j) => FINAL_JOB_STATE_NAMES.includes(j.state)).reverse();
  const running = data.filter((j) => !FINAL_JOB_STATE_NAMES.includes(j.state));
  return (
    <>
      <JobTable title="Running" jobs={running} />
      <JobTable title="Finished" jobs={finished} />
    </>
  );
}
