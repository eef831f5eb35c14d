/**
 * One job, live: its state, progress and rates, the chart of its life, what its agents and
 * metadata shards do, what became of its objects, its plan (a dry run), convergence, audit
 * verdict and events, and the actions and limits an operator may change.
 */

import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../api/manager.ts';
import type { JobProgress } from '../../api/progress.ts';
import { api } from '../api.ts';
import { ActivityCard } from '../components/activity-card.tsx';
import { AuditCard } from '../components/audit-card.tsx';
import { EventsCard } from '../components/events-card.tsx';
import { JobActions, LimitsForm } from '../components/job-controls.tsx';
import { ConvergenceCard, JobResultsCard } from '../components/job-results.tsx';
import { PlanCard } from '../components/plan-card.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { RateChart } from '../components/rate-chart.tsx';
import { bytes, count, duration, percent, rate, time } from '../format.ts';
import { allowedActions } from '../job-rules.ts';
import { usePoll } from '../poll.ts';

function ProgressCard({ progress: p, final }: { progress: JobProgress; final: boolean }) {
  const about = p.total_is_estimate ? 'about ' : '';
  return (
    <section class="card" aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <ProgressBar
        label="Objects"
        value={p.objects_done}
        max={p.objects_total}
        text={`${count(p.objects_done)} of ${about}${count(p.objects_total)} objects (${percent(p.objects_done, p.objects_total)})`}
      />
      <ProgressBar
        label="Bytes"
        value={p.bytes_done}
        max={p.bytes_total}
        text={`${bytes(p.bytes_done)} of ${about}${bytes(p.bytes_total)} (${percent(p.bytes_done, p.bytes_total)})`}
      />
      {final ? null : (
        <p>
          {rate(p.objects_per_second)} objects/s · {bytes(p.bytes_per_second)}/s · ETA{' '}
          {p.eta_seconds === null ? 'not known yet' : duration(p.eta_seconds)}
        </p>
      )}
      {p.stalled ? (
        <p class="flag stalled" role="status">
          Stalled since {time(p.stalled.since)}: {p.stalled.reason}
        </p>
      ) : null}
    </section>
  );
}

function JobHeader({ uuid, status }: { uuid: string; status: JobStatus }) {
  return (
    <div class="job-head">
      <p class="lede">
        <span class={`state state-${status.state.toLowerCase()}`} data-testid="job-state">
          {status.state}
        </span>{' '}
        {status.dry_run ? 'Dry run of an evacuation' : status.config.action} of{' '}
        <span class="mono">{status.config.from_shark.manta_storage_id}</span> (
        {status.config.from_shark.datacenter}) · job <span class="mono">{uuid}</span>
        {status.created_at ? ` · created ${time(status.created_at)}` : ''}
        {status.retry_of ? (
          <>
            {' '}
            · retry of <a href={`#/jobs/${status.retry_of}`}>{status.retry_of}</a>
          </>
        ) : null}
      </p>
      {status.error ? <p class="flag failed">{status.error}</p> : null}
    </div>
  );
}

export function JobView({ uuid }: { uuid: string }) {
  const job = usePoll('job', (signal) => api.job(uuid, signal), [uuid]);
  const status = job.data;
  const final = status !== undefined && FINAL_JOB_STATE_NAMES.includes(status.state);
  const moves = status?.config.action === 'Evacuate' && !status.dry_run;
  const planned = status?.dry_run === true && status.state === 'Planned';
  const history = usePoll(
    'history',
    (signal) => (moves ? api.history(uuid, signal) : Promise.resolve(undefined)),
    [uuid, moves],
    // Also once finished: the final sample is written as the job stops.
    moves,
  );
  const activity = usePoll(
    'activity',
    (signal) => (moves && !final ? api.activity(uuid, signal) : Promise.resolve(undefined)),
    [uuid, moves],
    moves && !final,
  );
  const plan = usePoll(
    'plan',
    (signal) => (planned ? api.plan(uuid, signal) : Promise.resolve(undefined)),
    [uuid, planned],
    false,
  );
  if (status === undefined) return <p>Loading job {uuid}…</p>;
  const allowed = allowedActions(status);
  return (
    <>
      <JobHeader uuid={uuid} status={status} />
      <div class="job-grid">
        <div class="job-main">
          {status.progress ? <ProgressCard progress={status.progress} final={final} /> : null}
          {plan.data ? <PlanCard plan={plan.data} dryRun={status} /> : null}
          {moves ? (
            <section class="card" aria-labelledby="chart-heading">
              <h2 id="chart-heading">Rates</h2>
              <RateChart samples={history.data?.samples ?? []} />
            </section>
          ) : null}
          {activity.data ? <ActivityCard activity={activity.data} /> : null}
          {status.config.action === 'Audit' ? null : <JobResultsCard results={status.results} />}
          {status.convergence ? (
            <ConvergenceCard convergence={status.convergence} final={final} />
          ) : null}
        </div>
        <div class="job-side">
          <section class="card" aria-labelledby="controls-heading">
            <h2 id="controls-heading">Actions</h2>
            <JobActions uuid={uuid} status={status} refresh={job.refresh} />
            {allowed.limits ? (
              <LimitsForm uuid={uuid} limits={status.limits} refresh={job.refresh} />
            ) : null}
          </section>
          {status.audit || status.config.action === 'Audit' ? (
            <AuditCard report={status.audit} />
          ) : null}
          <EventsCard uuid={uuid} />
        </div>
      </div>
    </>
  );
}
