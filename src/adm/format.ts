/** Human output of rebalancer-adm: tables and blocks, as D's CLI printed them (manager.md §7.2). */
import type { DuplicateEntry, JobListEntry, JobStatus } from '../api/manager.ts';

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

export function formatJobList(jobs: readonly JobListEntry[]): string {
  if (jobs.length === 0) return 'No jobs found.\n';
  const lines = [`${'ID'.padEnd(40)}${'ACTION'.padEnd(12)}STATE`, '-'.repeat(64)];
  for (const j of jobs) lines.push(`${j.id.padEnd(40)}${j.action.padEnd(12)}${j.state}`);
  return `${lines.join('\n')}\n`;
}

export function formatJobStatus(id: string, s: JobStatus): string {
  const shark = s.config.from_shark;
  const lines = [
    `Job ${id}`,
    '='.repeat(50),
    `State: ${s.state}`,
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
  return `${lines.join('\n')}\n`;
}
