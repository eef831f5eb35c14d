/** `rebalancer-adm job get` prints a job with buckets objects with v1 and v2 apart. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatJobList, formatJobStatus } from '../../src/adm/format.ts';
import type { JobStatus, TierResults } from '../../src/api/manager.ts';
import type { JobProgress } from '../../src/api/progress.ts';

const tier = (complete: number, error: number): TierResults => ({
  Unprocessed: 0,
  Assigned: 0,
  Skipped: 0,
  Error: error,
  'Post Processing': 0,
  Complete: complete,
  Total: complete + error,
});

const status = (tiers?: JobStatus['results']['tiers']): JobStatus => ({
  config: { action: 'Evacuate', from_shark: { manta_storage_id: '1.stor.x', datacenter: 'dc1' } },
  state: 'Complete',
  results: {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 2,
    'Post Processing': 0,
    Complete: 7,
    Duplicates: 0,
    Total: 9,
    ...(tiers ? { tiers } : {}),
  },
});

describe('adm job status', () => {
  test('v1 and v2 counts are printed apart beside the totals', () => {
    const text = formatJobStatus('j', status({ v1: tier(4, 0), v2: tier(3, 2) }));
    assert.match(text, /\n {2}Complete: {8}7\n/);
    assert.match(text, /v1 +v2\n/);
    assert.match(text, /\n {2}Complete: +4 +3\n/);
    assert.match(text, /\n {2}Error: +0 +2\n/);
  });

  test('convergence rounds: what each retried and what that became', () => {
    const text = formatJobStatus('j', {
      ...status(),
      convergence: {
        rounds_limit: 3,
        rounds: [
          {
            round: 1,
            retried: 5,
            rewritten: 2,
            new_versions: 2,
            became: { complete: 4, skipped: { agent_busy: 1 }, error: {}, unfinished: 0 },
            finished_at: '2026-12-02T05:00:00.000Z',
          },
        ],
      },
    });
    assert.match(text, /\nConvergence: 1 of at most 3 rounds\n/);
    assert.match(
      text,
      /\n {2}Round 1: retried 5 \(2 rewritten by their users: new versions taken\): 4 complete, 1 skipped agent_busy\n/,
    );
    assert.doesNotMatch(formatJobStatus('j', status()), /Convergence/);
  });

  test('a job without buckets objects prints as before', () => {
    assert.doesNotMatch(formatJobStatus('j', status()), /v2/);
  });

  test('limits, a dry run and the progress are printed', () => {
    const text = formatJobStatus('j', {
      ...status(),
      state: 'Running',
      dry_run: true,
      limits: {
        objects_per_second: 50,
        bytes_per_second: 20 * 1024 * 1024,
        metadata_updates_per_second: null,
      },
      progress: {
        ...PROGRESS,
        stalled: { since: '2026-12-02T05:00:00.000Z', reason: 'agent 3.stor: 503' },
      },
    });
    assert.match(text, /objects_per_second: 50\/s\n/);
    assert.match(text, /bytes_per_second: 20 MiB\/s\n/);
    assert.match(text, /metadata_updates_per_second: unlimited\n/);
    assert.match(text, /Dry Run: yes/);
    assert.match(text, /Progress: Running .* 9\/~20 done .* ETA 1m 40s\n/);
    assert.match(text, /Progress: stalled since 2026-12-02T05:00:00Z: agent 3\.stor: 503\n/);
  });
});

const PROGRESS: JobProgress = {
  objects_done: 9,
  objects_total: 20,
  bytes_done: 9 * 1024,
  bytes_total: 20 * 1024,
  total_is_estimate: true,
  objects_per_second: 0.11,
  bytes_per_second: 110,
  eta_seconds: 100,
  stalled: null,
};

describe('adm job list', () => {
  test('an unfinished job shows its shark, progress, rate and ETA; a finished one its state', () => {
    const text = formatJobList([
      { id: 'a', action: 'Evacuate', state: 'Running', from_shark: '1.stor', progress: PROGRESS },
      { id: 'b', action: 'Evacuate', state: 'Complete', from_shark: '2.stor' },
    ]);
    assert.match(
      text,
      /\na +Evacuate +Running +1\.stor +9\/~20 {2}0\.1 obj\/s {2}110 B\/s {2}ETA 1m 40s\n/,
    );
    assert.match(text, /\nb +Evacuate +Complete +2\.stor\n/);
  });
});
