/**
 * A dry run's plan: what would move and where to, how full each destination and datacenter
 * would be, what could not move and why, and how long it would take at the job's limits.
 * "Start evacuation" creates the real job with the dry run's settings, after a confirmation.
 */
import type { JobStatus } from '../../api/manager.ts';
import type { JobPlan } from '../../api/plan.ts';
import { api } from '../api.ts';
import { bytes, count, duration } from '../format.ts';
import { evacuationOf } from '../job-rules.ts';
import { act } from '../problems.ts';
import { estimateBasisWords, reasonWords } from '../reasons.ts';
import { navigate } from '../router.ts';

const pct = (n: number) => `${n.toFixed(1)}%`;

async function start(dryRun: JobStatus, plan: JobPlan): Promise<void> {
  const shark = dryRun.config.from_shark.manta_storage_id;
  const question =
    `Start evacuating ${shark}? ${count(plan.move.objects)} objects ` +
    `(${bytes(plan.move.bytes)}) will be copied to other sharks and their metadata rewritten.`;
  if (!confirm(question)) return;
  const id = await act(() => api.evacuate(evacuationOf(dryRun)));
  if (id !== undefined) navigate({ view: 'job', id });
}

export function PlanCard({ plan, dryRun }: { plan: JobPlan; dryRun: JobStatus }) {
  const reasons = Object.entries(plan.cannot_move.reasons).sort(
    ([, a], [, b]) => b.objects - a.objects,
  );
  return (
    <section class="card" data-testid="plan" aria-labelledby="plan-heading">
      <h2 id="plan-heading">Plan (dry run)</h2>
      <p class="lede">
        Would move {count(plan.move.objects)} objects ({bytes(plan.move.bytes)}) off{' '}
        <span class="mono">{plan.from_shark}</span>: {count(plan.move.v1.objects)} Moray (v1),{' '}
        {count(plan.move.v2.objects)} buckets (v2). Cannot move {count(plan.cannot_move.objects)} (
        {bytes(plan.cannot_move.bytes)}).{' '}
        {plan.estimated_seconds === null
          ? `No estimate: ${estimateBasisWords(plan.estimate_basis)}.`
          : `About ${duration(plan.estimated_seconds)}, bounded by ${estimateBasisWords(plan.estimate_basis)}.`}
      </p>
      <table>
        <caption>Destinations</caption>
        <thead>
          <tr>
            <th scope="col">Shark</th>
            <th scope="col">Datacenter</th>
            <th scope="col" class="num">
              Objects
            </th>
            <th scope="col" class="num">
              Bytes
            </th>
            <th scope="col" class="num">
              Fill before → after
            </th>
          </tr>
        </thead>
        <tbody>
          {plan.destinations.map((d) => (
            <tr key={d.manta_storage_id}>
              <th scope="row" class="mono">
                {d.manta_storage_id}
              </th>
              <td>{d.datacenter}</td>
              <td class="num">{count(d.objects)}</td>
              <td class="num">{bytes(d.bytes)}</td>
              <td class="num">
                {pct(d.fill_before_percent)} → {pct(d.fill_after_percent)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <table>
        <caption>Datacenters</caption>
        <thead>
          <tr>
            <th scope="col">Datacenter</th>
            <th scope="col" class="num">
              Objects
            </th>
            <th scope="col" class="num">
              Bytes
            </th>
            <th scope="col" class="num">
              Room before → after
            </th>
          </tr>
        </thead>
        <tbody>
          {plan.datacenters.map((d) => (
            <tr key={d.datacenter}>
              <th scope="row">{d.datacenter}</th>
              <td class="num">{count(d.objects)}</td>
              <td class="num">{bytes(d.bytes)}</td>
              <td class="num">
                {bytes(d.available_bytes_before)} → {bytes(d.available_bytes_after)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {reasons.length === 0 ? null : (
        <table class="reasons">
          <caption>Cannot move, by reason</caption>
          <thead>
            <tr>
              <th scope="col">Why</th>
              <th scope="col">Code</th>
              <th scope="col" class="num">
                Objects
              </th>
              <th scope="col" class="num">
                Bytes
              </th>
            </tr>
          </thead>
          <tbody>
            {reasons.map(([code, amount]) => (
              <tr key={code}>
                <td>{reasonWords(code)}</td>
                <td class="mono">{code}</td>
                <td class="num">{count(amount.objects)}</td>
                <td class="num">{bytes(amount.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" class="primary" onClick={() => void start(dryRun, plan)}>
        Start evacuation
      </button>
    </section>
  );
}
