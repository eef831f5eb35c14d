import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JOB_STATE_NAMES, type JobStateName, type JobStatus } from '../../src/api/manager.ts';
import { allowedActions, evacuationOf } from '../../src/ui/job-rules.ts';

function status(state: JobStateName, extra: Partial<JobStatus> = {}): JobStatus {
  return {
    config: {
      action: 'Evacuate',
      from_shark: { manta_storage_id: '1.stor.example.com', datacenter: 'dc1' },
    },
    results: {
      Unprocessed: 0,
      Assigned: 0,
      Skipped: 0,
      Error: 0,
      'Post Processing': 0,
      Complete: 0,
      Duplicates: 0,
      Total: 0,
    },
    state,
    ...extra,
  };
}

const enabled = (s: JobStatus) =>
  Object.entries(allowedActions(s))
    .filter(([, on]) => on)
    .map(([name]) => name);

describe('the actions the console offers for a job', () => {
  test("an evacuation's actions follow its state", () => {
    const by = Object.fromEntries(JOB_STATE_NAMES.map((state) => [state, enabled(status(state))]));
    assert.deepEqual(by, {
      Init: ['cancel'],
      Setup: ['pause', 'cancel', 'limits'],
      Running: ['pause', 'cancel', 'limits'],
      Paused: ['resume', 'cancel', 'limits'],
      Stopped: ['retry'],
      Complete: ['retry'],
      Failed: ['retry'],
      Cancelled: ['retry'],
      Planned: ['retry'],
    });
  });

  test('a dry run and an audit are never paused or retried; an audit has no limits', () => {
    assert.deepEqual(enabled(status('Running', { dry_run: true })), ['cancel', 'limits']);
    assert.deepEqual(enabled(status('Planned', { dry_run: true })), []);
    const audit = status('Running');
    audit.config.action = 'Audit';
    assert.deepEqual(enabled(audit), ['cancel']);
  });

  test("the real evacuation keeps the dry run's settings and limits", () => {
    const dryRun = status('Planned', {
      dry_run: true,
      max_objects: null,
      single_copies: 'skip',
      limits: { objects_per_second: 20, bytes_per_second: null, metadata_updates_per_second: 5 },
      convergence: { rounds_limit: 2, rounds: [] },
    });
    assert.deepEqual(evacuationOf(dryRun), {
      from_shark: '1.stor.example.com',
      single_copies: 'skip',
      converge_rounds: 2,
      objects_per_second: 20,
      metadata_updates_per_second: 5,
    });
    assert.deepEqual(evacuationOf(status('Planned', { dry_run: true, max_objects: 10 })), {
      from_shark: '1.stor.example.com',
      max_objects: 10,
    });
  });
});
