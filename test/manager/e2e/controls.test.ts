/**
 * Operator controls against the sandbox's real processes (issue 15): a dry run's plan and the
 * real run that follows it, a throttle changed mid-job, a pause that survives a kill -9 of
 * the manager, a cancel from Paused, and two throttled drains at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '../../../src/api/manager.ts';
import { snapshotObjects, verifyEvacuation } from '../../../src/sandbox/verify.ts';
import { objectsOn, useSandbox } from './sandbox.ts';

const settled = (s: JobStatus): number => s.results.Complete + s.results.Skipped + s.results.Error;

async function verifyOff(
  e2e: ReturnType<ReturnType<typeof useSandbox>>,
  evacuated: string,
  before: Awaited<ReturnType<typeof snapshotObjects>>,
  skipped = new Set<string>(),
): Promise<void> {
  const result = await verifyEvacuation(e2e.sandbox, { evacuated, before, skipped });
  assert.deepEqual(result.problems, []);
  assert.equal(result.lost, 0);
  assert.equal(result.reducedCopies, 0);
}

describe('operator controls', { timeout: 400_000 }, () => {
  const sandbox = useSandbox('controls', { sharks: 6 });

  test('a dry run plans, moves nothing, and the real run moves what it planned', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(1);
    await e2e.putObjects([
      ...Array.from({ length: 60 }, (_, i) => ({ sharks: [evac, e2e.shark(2 + (i % 4))] })),
      ...Array.from({ length: 8 }, () => ({ sharks: [evac], size: 2048 })),
    ]);
    const before = await snapshotObjects(e2e.sandbox);
    const onShark = objectsOn(before, evac);
    const single = onShark.filter((o) => o.sharks.length === 1);
    const id = await e2e.manager.createEvacuate(evac, { dryRun: true });
    const planned = await e2e.waitForJob(id);
    assert.equal(planned.state, 'Planned', JSON.stringify(planned));
    const plan = await e2e.manager.plan(id);
    // Single copies are planned to move from the evacuated shark itself (issue 16).
    assert.ok(single.length > 0);
    assert.equal(plan.move.objects, onShark.length);
    assert.equal(plan.cannot_move.objects, 0, JSON.stringify(plan.cannot_move));
    assert.equal(
      plan.destinations.reduce((n, d) => n + d.objects, 0),
      plan.move.objects,
    );
    assert.ok(plan.destinations.every((d) => d.manta_storage_id !== evac));
    for (const d of plan.destinations) assert.ok(d.fill_after_percent >= d.fill_before_percent);
    // Nothing was posted or written: every record and copy is as it was.
    assert.deepEqual(await snapshotObjects(e2e.sandbox), before);

    const run = await e2e.waitForJob(await e2e.manager.createEvacuate(evac));
    assert.equal(run.state, 'Complete', JSON.stringify(run));
    assert.equal(run.results.Complete, plan.move.objects);
    assert.equal(run.results.Skipped ?? 0, 0, JSON.stringify(run.results));
    assert.equal(run.progress?.bytes_done, plan.move.bytes);
    await verifyOff(e2e, evac, before, new Set());
  });

  test('objects_per_second holds the rate; a change takes effect mid-job', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(2);
    await e2e.putObjects(Array.from({ length: 240 }, () => ({ sharks: [evac, e2e.shark(6)] })));
    const before = await snapshotObjects(e2e.sandbox);
    const id = await e2e.manager.createEvacuate(evac, { limits: { objects_per_second: 10 } });
    await e2e.waitForJob(id, (s) => settled(s) >= 20);
    const a = await e2e.manager.get(id);
    const started = performance.now();
    await sleep(6000);
    const b = await e2e.manager.get(id);
    const slow = (settled(b) - settled(a)) / ((performance.now() - started) / 1000);
    assert.ok(slow > 4 && slow < 16, `at 10/s the job settled ${slow.toFixed(1)} objects/s`);
    assert.equal(b.limits?.objects_per_second, 10);

    await e2e.manager.setLimits(id, { objects_per_second: 500 });
    const changed = await e2e.manager.get(id);
    assert.equal(changed.limits?.objects_per_second, 500);
    const fastFrom = performance.now();
    const done = await e2e.waitForJob(id);
    const left = done.results.Complete - settled(changed);
    const fast = left / ((performance.now() - fastFrom) / 1000);
    assert.equal(done.state, 'Complete', JSON.stringify(done));
    assert.ok(
      fast > 3 * slow,
      `after the change ${fast.toFixed(1)}/s, before ${slow.toFixed(1)}/s`,
    );
    await verifyOff(e2e, evac, before);
  });

  test('a pause holds across a kill -9 of the manager; resume finishes; cancel from Paused', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(3);
    await e2e.putObjects(Array.from({ length: 150 }, () => ({ sharks: [evac, e2e.shark(6)] })));
    const before = await snapshotObjects(e2e.sandbox);
    const id = await e2e.manager.createEvacuate(evac, { limits: { objects_per_second: 15 } });
    await e2e.waitForJob(id, (s) => settled(s) >= 15);
    const paused = await e2e.manager.pause(id);
    assert.equal(paused.state, 'Paused');
    // Work already on agents finishes; then nothing moves.
    let last = -1;
    for (;;) {
      await sleep(2000);
      const s = await e2e.manager.get(id);
      assert.equal(s.state, 'Paused');
      if (s.results.Complete === last) break;
      last = s.results.Complete;
    }
    assert.ok(last < 150, `${last} moved while paused`);
    await assert.rejects(e2e.manager.pause(id), /409/);

    await e2e.crash('manager');
    await e2e.restartManager();
    const restarted = await e2e.manager.get(id);
    assert.equal(restarted.state, 'Paused');
    await sleep(4000);
    const still = await e2e.manager.get(id);
    assert.equal(still.state, 'Paused');
    assert.equal(still.results.Complete, last, 'nothing moved while paused after the restart');
    assert.equal(still.limits?.objects_per_second, 15, 'the limit survived the restart');

    await e2e.manager.setLimits(id, { objects_per_second: null });
    const resumed = await e2e.manager.resume(id);
    assert.equal(resumed.state, 'Running');
    await assert.rejects(e2e.manager.resume(id), /409/);
    const done = await e2e.waitForJob(id);
    assert.equal(done.state, 'Complete', JSON.stringify(done));
    await verifyOff(e2e, evac, before);

    // Cancel still works from Paused.
    const other = e2e.shark(4);
    await e2e.putObjects(Array.from({ length: 40 }, () => ({ sharks: [other, e2e.shark(6)] })));
    const job = await e2e.manager.createEvacuate(other, { limits: { objects_per_second: 5 } });
    await e2e.waitForJob(job, (s) => s.state === 'Running');
    await e2e.manager.pause(job);
    await e2e.manager.cancel(job);
    const cancelled = await e2e.waitForJob(job);
    assert.equal(cancelled.state, 'Cancelled', JSON.stringify(cancelled));
  });

  test('two throttled drains at once: independent limits, both listed with their progress', async () => {
    const e2e = sandbox();
    const [a, b] = [e2e.shark(4), e2e.shark(5)];
    await e2e.putObjects([
      ...Array.from({ length: 60 }, () => ({ sharks: [a, e2e.shark(1)] })),
      ...Array.from({ length: 60 }, () => ({ sharks: [b, e2e.shark(2)] })),
    ]);
    const before = await snapshotObjects(e2e.sandbox);
    const first = await e2e.manager.createEvacuate(a, { limits: { objects_per_second: 20 } });
    const second = await e2e.manager.createEvacuate(b, { limits: { objects_per_second: 40 } });
    await e2e.waitForJob(first, (s) => settled(s) >= 10);
    const listed = await e2e.manager.list();
    for (const [id, limit] of [
      [first, 20],
      [second, 40],
    ] as const) {
      const entry = listed.find((j) => j.id === id);
      assert.ok(entry, `job ${id} listed`);
      if (entry.state === 'Running') {
        assert.equal(entry.limits?.objects_per_second, limit);
        assert.ok(entry.progress, 'a running job is listed with its progress');
      }
    }
    const [one, two] = await Promise.all([e2e.waitForJob(first), e2e.waitForJob(second)]);
    for (const s of [one, two]) assert.equal(s.state, 'Complete', JSON.stringify(s));
    // Known window (issue 16's final re-read closes it; see concurrent.test.ts): a job may
    // place a copy on the other's shark in the moment before the other job starts, or an object
    // an earlier test left on both sharks is rewritten by both. At most a handful, never lost.
    const now = await snapshotObjects(e2e.sandbox);
    for (const evacuated of [a, b]) {
      const left = new Set(objectsOn(now, evacuated).map((o) => o.key));
      assert.ok(left.size <= 5, `${left.size} objects left on ${evacuated}`);
      await verifyOff(e2e, evacuated, before, left);
    }
  });
});
