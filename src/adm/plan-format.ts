/**
 * `rebalancer-adm job plan`: a dry run's plan as a summary and two tables (destinations,
 * datacenters). Sizes in binary units, as storinfo counts them (MiB).
 */
import type { JobPlan } from '../api/plan.ts';
import { count, humanBytes, humanDuration } from './units.ts';

const amount = (a: { objects: number; bytes: number }) =>
  `${count(a.objects)} objects, ${humanBytes(a.bytes)}`;
const percent = (p: number) => `${Number.isInteger(p) ? p : p.toFixed(1)}%`;

/** Columns padded to their widest cell; `right` columns (numbers) aligned right. */
function table(header: readonly string[], rows: readonly string[][], right: ReadonlySet<number>) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function estimate(plan: JobPlan): string {
  if (plan.estimated_seconds === null) return `none (${plan.estimate_basis})`;
  if (plan.move.objects === 0) return 'nothing to move';
  return `${humanDuration(plan.estimated_seconds)} (bound by ${plan.estimate_basis})`;
}

export function formatPlan(plan: JobPlan): string {
  const { move, cannot_move: cannot } = plan;
  const lines = [
    `Plan of dry run ${plan.job_id}`,
    `Evacuating: ${plan.from_shark}`,
    `Made: ${plan.created_at}`,
    '',
    `To move:     ${amount(move)}`,
    `  v1:        ${amount(move.v1)}`,
    `  v2:        ${amount(move.v2)}`,
    `Cannot move: ${amount(cannot)}`,
  ];
  const reasons = Object.entries(cannot.reasons).sort(
    ([a, x], [b, y]) => y.objects - x.objects || (a < b ? -1 : 1),
  );
  for (const [reason, a] of reasons) lines.push(`  ${reason}: ${amount(a)}`);
  lines.push('', 'Destinations:');
  if (plan.destinations.length === 0) lines.push('  none');
  else
    lines.push(
      ...table(
        ['SHARK', 'DATACENTER', 'OBJECTS', 'BYTES', 'FILL BEFORE → AFTER'],
        plan.destinations.map((d) => [
          d.manta_storage_id,
          d.datacenter,
          count(d.objects),
          humanBytes(d.bytes),
          `${percent(d.fill_before_percent)} → ${percent(d.fill_after_percent)}`,
        ]),
        new Set([2, 3]),
      ),
    );
  lines.push('', 'Datacenters:');
  if (plan.datacenters.length === 0) lines.push('  none');
  else
    lines.push(
      ...table(
        ['DATACENTER', 'OBJECTS', 'BYTES', 'AVAILABLE BEFORE', 'AVAILABLE AFTER'],
        plan.datacenters.map((d) => [
          d.datacenter,
          count(d.objects),
          humanBytes(d.bytes),
          humanBytes(d.available_bytes_before),
          humanBytes(d.available_bytes_after),
        ]),
        new Set([1, 2, 3, 4]),
      ),
    );
  lines.push('', `Estimate: ${estimate(plan)}`);
  return `${lines.join('\n')}\n`;
}
