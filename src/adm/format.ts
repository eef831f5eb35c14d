/** Human output of rebalancer-adm: tables and blocks, as D's CLI printed them (manager.md §7.2). */
import type { Convergence } from '../api/convergence.ts';
import { LIMIT_NAMES } from '../api/limits.ts';
import type { DuplicateEntry, JobListEntry, JobStatus } from '../api/manager.ts';
import type { JobProgress } from '../api/progress.ts';
import { formatLimit } from './limits.ts';
import { progressLines } from './progress.ts';
import { count, humanBytes, humanDuration } from './units.ts';

export function formatDuplicates(duplicates: readonly DuplicateEntry[]): string {
  if (duplicates.length === 0) return 'No duplicates.\n';
  const lines = [`${'STATUS'.padEnd(10)}${'SHARD'.padEnd(7)}${'OBJECT ID'.padEnd(38)}KEY (REASON)`];
  for (const d of duplicates) {
    const why = d.reason === undefined ? '' : ` (${d.reason})`;
    lines.push(
      `${d.status.padEnd(10)}${String(d.shard).padEnd(7)}${d.object_id.padEnd(38)}${d.key}${why}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** L's three columns, then the shark and, for a job not finished, its progress, rate and ETA. */
export function formatJobList(jobs: readonly JobListEntry[]): string {
  if (jobs.length === 0) return 'No jobs found.\n';
  const lines = [
    `${'ID'.padEnd(40)}${'ACTION'.padEnd(12)}${'STATE'.padEnd(11)}${'SHARK'.padEnd(28)}PROGRESS`,
    '-'.repeat(110),
  ];
  for (const j of jobs) {
    const head = `${j.id.padEnd(40)}${j.action.padEnd(12)}${j.state.padEnd(11)}`;
    lines.push(`${head}${(j.from_shark ?? '').padEnd(28)}${listProgress(j.progress)}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

function listProgress(p: JobProgress | undefined): string {
  if (p === undefined) return '';
  const approx = p.total_is_estimate ? '~' : '';
  return [
    `${count(p.objects_done)}/${approx}${count(p.objects_total)}`,
    `${p.objects_per_second.toFixed(1)} obj/s`,
    `${humanBytes(p.bytes_per_second)}/s`,
    p.eta_seconds === null ? '' : `ETA ${humanDuration(p.eta_seconds)}`,
    p.stalled === null ? '' : 'STALLED',
  ]
    .filter((part) => part !== '')
    .join('  ');
}

export function formatJobStatus(id: string, s: JobStatus): string {
  const shark = s.config.from_shark;
  const lines = [
    `Job ${id}`,
    '='.repeat(50),
    `State: ${s.state}`,
    ...(s.progress === undefined ? [] : progressLines(s).map((l) => `Progress: ${l.trim()}`)),
    ...(s.error === undefined ? [] : [`Error: ${s.error}`]),
    ...(s.retry_of === undefined ? [] : [`Retry of: ${s.retry_of}`]),
    '',
    'Configuration:',
    `  Action: ${s.config.action}`,
    `  From Shark: ${shark.manta_storage_id}${shark.datacenter === '' ? '' : ` (${shark.datacenter})`}`,
    ...(s.max_objects === undefined || s.max_objects === null
      ? []
      : [`  Max Objects: ${s.max_objects}`]),
    ...(s.metadata_threads === undefined ? [] : [`  Metadata Threads: ${s.metadata_threads}`]),
    ...(s.dry_run ? ['  Dry Run: yes (plan only: rebalancer-adm job plan <uuid>)'] : []),
    ...(s.single_copies === undefined ? [] : [`  Single Copies: ${s.single_copies}`]),
    ...(s.limits === undefined
      ? []
      : LIMIT_NAMES.map((name) => `  ${name}: ${formatLimit(name, s.limits?.[name] ?? null)}`)),
    '',
    'Results:',
  ];
  const { error_breakdown, skip_breakdown, tiers, ...counts } = s.results;
  const width = Math.max(...Object.keys(counts).map((k) => k.length)) + 2;
  for (const [k, v] of Object.entries(counts)) lines.push(`  ${`${k}:`.padEnd(width)}${v}`);
  if (tiers && tiers.v2.Total > 0) {
    const keys = Object.keys(tiers.v1) as (keyof typeof tiers.v1)[];
    const w = Math.max(...keys.map((k) => k.length)) + 2;
    lines.push('', `  ${''.padEnd(w)}${'v1'.padStart(10)}${'v2'.padStart(10)}`);
    for (const k of keys) {
      lines.push(
        `  ${`${k}:`.padEnd(w)}${String(tiers.v1[k]).padStart(10)}${String(tiers.v2[k]).padStart(10)}`,
      );
    }
  }
  if (skip_breakdown) {
    lines.push('', 'Skipped by reason:');
    for (const [k, v] of Object.entries(skip_breakdown)) lines.push(`  ${k}: ${v}`);
  }
  if (error_breakdown) {
    lines.push('', 'Errors:');
    for (const [backend, m] of Object.entries(error_breakdown)) {
      for (const [k, v] of Object.entries(m)) lines.push(`  ${backend} ${k}: ${v}`);
    }
  }
  if (s.convergence) lines.push('', ...convergenceLines(s.convergence));
  return `${lines.join('\n')}\n`;
}

/** A job's convergence rounds: what each retried and what that became. */
function convergenceLines(c: Convergence): string[] {
  const lines = [`Convergence: ${c.rounds.length} of at most ${c.rounds_limit} rounds`];
  for (const r of c.rounds) {
    const parts = [`${r.became.complete} complete`];
    for (const [k, v] of Object.entries(r.became.skipped)) parts.push(`${v} skipped ${k}`);
    for (const [k, v] of Object.entries(r.became.error)) parts.push(`${v} error ${k}`);
    if (r.became.unfinished > 0) parts.push(`${r.became.unfinished} unfinished`);
    const rewritten =
      r.rewritten > 0 ? ` (${r.rewritten} rewritten by their users: new versions taken)` : '';
    lines.push(`  Round ${r.round}: retried ${r.retried}${rewritten}: ${parts.join(', ')}`);
  }
  return lines;
}
