/** L's status `results` (manager.md §2.4), built from a job's incremental counters. */
import { type JobResults, RESULT_STATUS_KEYS, type TierResults } from '../../api/manager.ts';
import { type CountRow, type OBJECT_STATUSES, UnknownStoredValueError } from '../store/index.ts';

const STATUS_KEYS: Record<(typeof OBJECT_STATUSES)[number], (typeof RESULT_STATUS_KEYS)[number]> = {
  unprocessed: 'Unprocessed',
  assigned: 'Assigned',
  skipped: 'Skipped',
  error: 'Error',
  post_processing: 'Post Processing',
  complete: 'Complete',
};

/** L's status `results` (manager.md §2.4) from the incremental counters. */
export function buildResults(rows: readonly CountRow[]): JobResults {
  const results: JobResults = {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 0,
    'Post Processing': 0,
    Complete: 0,
    Duplicates: 0,
    Total: 0,
  };
  const errors: Record<string, Record<string, number>> = {};
  const skips: Record<string, number> = {};
  const v2 = tierResults();
  for (const row of rows) {
    if (row.bucket === 'buckets_status') {
      const key = STATUS_KEYS[row.name as keyof typeof STATUS_KEYS];
      if (key === undefined) throw new UnknownStoredValueError('status counter', row.name);
      v2[key] = row.count;
    } else if (row.bucket === 'status') {
      const key = STATUS_KEYS[row.name as keyof typeof STATUS_KEYS];
      if (key === undefined) throw new UnknownStoredValueError('status counter', row.name);
      results[key] = row.count;
    } else if (row.bucket === 'duplicates') {
      results.Duplicates += row.count;
    } else if (row.count > 0 && row.bucket === 'error') {
      const [backend, detail] = row.name.startsWith('moray_')
        ? ['moray', row.name.slice(6)]
        : row.name.startsWith('mdapi_')
          ? ['mdapi', row.name.slice(6)]
          : ['other', row.name];
      errors[backend] = { ...errors[backend], [detail]: row.count };
    } else if (row.count > 0 && row.bucket === 'skip') {
      skips[row.name] = row.count;
    }
  }
  results.Total =
    RESULT_STATUS_KEYS.reduce((sum, key) => sum + results[key], 0) + results.Duplicates;
  if (Object.keys(errors).length > 0) results.error_breakdown = errors;
  if (Object.keys(skips).length > 0) results.skip_breakdown = skips;
  // v2 objects are counted apart and v1 is the rest; a job without v2 objects keeps L's shape.
  const v1 = tierResults();
  for (const key of RESULT_STATUS_KEYS) {
    v1[key] = results[key] - v2[key];
    v1.Total += v1[key];
    v2.Total += v2[key];
  }
  if (v2.Total > 0) results.tiers = { v1, v2 };
  return results;
}

function tierResults(): TierResults {
  return {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 0,
    'Post Processing': 0,
    Complete: 0,
    Total: 0,
  };
}
