/**
 * Objects whose only copy is on the evacuated shark (issue 16), against the sandbox's real
 * processes: copied from that shark while it serves reads, verified by the independent
 * verifier; with the shark's mako stopped they are skipped `evacuated_shark_unreachable`, and
 * nothing is lost.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { snapshotObjects, verifyEvacuation } from '../../../src/sandbox/verify.ts';
import { objectsOn, TERMINAL_STATES, useSandbox } from './sandbox.ts';

describe('single copies end to end', { timeout: 300_000 }, () => {
  const sandbox = useSandbox('single-copies', { sharks: 4 });

  test('copied from the evacuated shark itself, verified on disk', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(1);
    const singles = await e2e.putObjects(Array.from({ length: 12 }, () => ({ sharks: [evac] })));
    await e2e.putObjects(Array.from({ length: 12 }, () => ({ sharks: [evac, e2e.shark(2)] })));
    const before = await snapshotObjects(e2e.sandbox);
    const id = await e2e.manager.createEvacuate(evac);
    const status = await e2e.waitForJob(id);
    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.equal(status.single_copies, 'copy');
    // Everything on the shark (buckets objects too, which the v1 snapshot leaves out) moved.
    assert.ok(status.results.Total >= objectsOn(before, evac).length);
    assert.equal(status.results.Complete, status.results.Total);
    assert.equal(status.results.Skipped, 0, JSON.stringify(status.results));
    const result = await verifyEvacuation(e2e.sandbox, { evacuated: evac, before });
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
    assert.equal(result.reducedCopies, 0);
    const after = await snapshotObjects(e2e.sandbox);
    for (const key of singles) {
      const sharks = after.get(key)?.sharks ?? [];
      assert.equal(sharks.length, 1, key);
      assert.notEqual(sharks[0], evac, `${key} moved off the shark`);
    }
  });

  test('the shark stopping mid-job: single copies skipped evacuated_shark_unreachable', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(3);
    const mine = await e2e.putObjects(Array.from({ length: 6 }, () => ({ sharks: [evac] })));
    await e2e.putObjects(Array.from({ length: 6 }, () => ({ sharks: [evac, e2e.shark(4)] })));
    const before = await snapshotObjects(e2e.sandbox);
    // Slow reads from the shark keep its single copies in flight when its mako stops.
    await e2e.setMakoFaults({ latencyMs: 2000 }, [evac]);
    const id = await e2e.manager.createEvacuate(evac);
    await e2e.waitForJob(id, (s) => s.results.Assigned > 0 || TERMINAL_STATES.includes(s.state));
    await e2e.halt(`mako ${evac}`);
    const status = await e2e.waitForJob(id);
    const r = status.results;
    assert.equal(status.state, 'Complete', JSON.stringify(status));
    // A single copy the first test moved here may still lie on its old shark: an agent there
    // finds it whole (MD5) and completes. Every other single copy is skipped, saying why.
    assert.deepEqual(Object.keys(r.skip_breakdown ?? {}), ['evacuated_shark_unreachable']);
    assert.ok(r.Skipped >= mine.length, JSON.stringify(r));
    assert.equal(r.Complete + r.Skipped, r.Total, JSON.stringify(r));
    const after = await snapshotObjects(e2e.sandbox);
    // Each single copy is either still named where it was (skipped) or moved whole.
    for (const key of mine) assert.equal(after.get(key)?.sharks.length, 1, `${key}: one copy`);
    const left = objectsOn(after, evac).map((o) => o.key);
    for (const key of left) assert.equal(before.get(key)?.sharks.length, 1, `${key} left`);
    const result = await verifyEvacuation(e2e.sandbox, {
      evacuated: evac,
      before,
      skipped: new Set(left),
    });
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
  });
});
