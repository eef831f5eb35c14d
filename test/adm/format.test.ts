/** `rebalancer-adm job get` prints a job with buckets objects with v1 and v2 apart. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatJobStatus } from '../../src/adm/format.ts';
import type { JobStatus, TierResults } from '../../src/api/manager.ts';

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

  test('a job without buckets objects prints as before', () => {
    assert.doesNotMatch(formatJobStatus('j', status()), /v2/);
  });
});
