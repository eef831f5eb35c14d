/**
 * The demo's progress bar is the adm renderer over the manager's progress: plain lines every
 * few seconds when not a terminal (the first, then the last), drawn in place on one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobStatus } from '../../../src/api/manager.ts';
import { JobProgress } from '../../../src/sandbox/demo/progress.ts';

function status(state: JobStatus['state'], done: number, eta: number | null): JobStatus {
  return {
    config: { action: 'Evacuate', from_shark: { manta_storage_id: '1.stor.x', datacenter: 'dc1' } },
    state,
    results: {
      Unprocessed: 40 - done,
      Assigned: 0,
      Skipped: 0,
      Error: 0,
      'Post Processing': 0,
      Complete: done,
      Duplicates: 0,
      Total: 40,
    },
    progress: {
      objects_done: done,
      objects_total: 40,
      bytes_done: done * 100,
      bytes_total: 4000,
      total_is_estimate: false,
      objects_per_second: 8,
      bytes_per_second: 800,
      eta_seconds: eta,
      stalled: null,
    },
  };
}

test('the demo bar: the manager progress, plain lines a few seconds apart off a terminal', () => {
  const written: string[] = [];
  const bar = new JobProgress({ write: (t: string) => written.push(t), isTTY: false });
  bar.update(status('Running', 10, 3.75));
  bar.update(status('Running', 20, 2.5));
  bar.finish(status('Complete', 40, null));
  assert.equal(written.length, 2, 'one periodic line, then the final one');
  assert.match(written[0] ?? '', /^Running .* 10\/40 done .* 8\.0 obj\/s {2}800 B\/s {2}ETA 4s\n$/);
  assert.match(written[1] ?? '', /^Complete .* 40\/40 done/);
  assert.ok(written.every((t) => !t.includes('\x1b') && !t.includes('\r')));
});

test('the demo bar on a terminal: every update drawn, in place', () => {
  const written: string[] = [];
  const bar = new JobProgress({ write: (t: string) => written.push(t), isTTY: true, columns: 160 });
  bar.update(status('Running', 10, 3.75));
  bar.update(status('Running', 20, 2.5));
  bar.finish(status('Complete', 40, null));
  assert.equal(written.length, 3);
  assert.ok(written.slice(1).every((t) => t.includes('\x1b[2K')));
});
