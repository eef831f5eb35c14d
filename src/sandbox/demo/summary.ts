/** The demo's closing report for a person: what happened, whether it is right, where to look. */
import { join } from 'node:path';
import type { DemoResult } from './run.ts';

const n = (value: number): string => value.toLocaleString('en-US');

export function formatSummary(
  result: DemoResult,
  options: { kept: boolean; removed: boolean },
): string {
  const breakdown = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([reason, count]) => `${reason} ${n(count)}`)
      .join(', ');
  const errors = Object.entries(result.error_breakdown)
    .map(([reason, counts]) => `${reason} ${n(Object.values(counts).reduce((a, b) => a + b, 0))}`)
    .join(', ');
  const rows: [string, string, string][] = [
    ['objects in the sandbox', n(result.objects), 'Moray (v1): all of them re-read and checked'],
    [
      'objects on the shark',
      n(result.job_objects),
      `the job's total: v1 ${n(result.job_tiers.v1.objects)}, v2 ${n(result.job_tiers.v2.objects)}`,
    ],
    ['complete', n(result.complete), 'moved off the shark'],
    ['skipped', n(result.skipped), breakdown(result.skip_breakdown)],
    ['errors', n(result.errors), errors],
    ['verified intact', n(result.verified), 'every copy on disk with its MD5'],
    ['still on the shark', n(result.still_on_shark), 'reported skips only'],
    ['lost', n(result.lost), result.lost === 0 ? '' : 'see problems below'],
  ];
  const v2 = result.verification.v2;
  if (v2) {
    rows.push([
      'buckets (v2) rows',
      n(v2.objects),
      `verified ${n(v2.verified)}, still on the shark ${n(v2.still_on_shark)}, lost ${n(v2.lost)}, metadata changed ${n(v2.metadata_changed ?? 0)}, committed MPU parts without data ${n(v2.mpu_part_no_data ?? 0)}`,
    ]);
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  const lines = [
    '',
    `${result.passed ? 'PASSED' : 'FAILED'}: evacuated ${result.shark} with job ${result.job}`,
    '',
    ...rows.map(([label, value, note]) =>
      `  ${label.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}`.trimEnd(),
    ),
    '',
    verdictLine(result),
    '',
    `  time: ${result.seconds}s in all; start-up ${result.phases.startup}s, seeding ${result.phases.seed}s, job ${result.phases.job}s (${n(Math.round(result.objects_per_second))} objects/s), verification ${result.phases.verify}s`,
    '',
    'Checks',
    ...result.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`),
  ];
  if (result.problems.length > 0) {
    lines.push('', 'Problems', ...result.problems.map((p) => `  ${p}`));
  }
  const logs = join(result.dir, 'logs');
  lines.push('', 'Where to look next');
  if (options.kept) {
    lines.push(
      `  sandbox   ${result.sandbox ?? join(result.dir, 'sandbox.json')} (still running)`,
      `  manager   ${result.manager_url}`,
      `  console   ${result.manager_url}/ui/#/jobs/${result.job}`,
      `  job       node bin/rebalancer-adm.js --url ${result.manager_url} job get ${result.job}`,
      `  jobs      node bin/rebalancer-adm.js --url ${result.manager_url} job list`,
      `  logs      ${logs} (manager.log, agent-*.log, mako-*.log, *.moray.*.log)`,
      `  stop      node bin/rebalancer-sandbox.js down --dir ${result.dir}`,
    );
  } else {
    lines.push(
      `  the sandbox is stopped${options.removed ? ' and removed' : `; its logs stay in ${logs}`}`,
      '  run again with --keep to leave it running and inspect the job in the console or with rebalancer-adm',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The audit's verdict, as `rebalancer-adm shark audit` gives it. */
function verdictLine(result: DemoResult): string {
  const a = result.audit;
  if (!a || a.verdict === null) return `  ${result.shark}: no audit verdict (see the job's status)`;
  return `  ${result.shark}: safe to remove: ${a.verdict === 'safe' ? 'yes' : 'no'} (the job's audit: ${n(a.still_named)} records still name it, ${n(a.unsafe)} unsafe)`;
}
