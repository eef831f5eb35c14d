/**
 * A retry after users re-uploaded objects during the job (identical bytes, new objectIds): the
 * retry must move each object as it is now, never point a record at a shark that holds only
 * the old objectId's file (issue 12, defect 1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobStatus } from '../../../src/api/manager.ts';
import { snapshotObjects, verifyEvacuation } from '../../../src/sandbox/verify.ts';
import { objectsOn, TERMINAL_STATES, useSandbox } from './sandbox.ts';

const ended = (status: JobStatus) => TERMINAL_STATES.includes(status.state);

describe('retry after identical re-uploads', { timeout: 240_000 }, () => {
  const sandbox = useSandbox('retry');

  test('the retry takes the live objectId: every record names copies of its own object', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(1);
    await e2e.putObjects(Array.from({ length: 24 }, () => ({ sharks: [e2e.shark(2), evac] })));
    // Copies take a while, so the users' writes land between discovery and the metadata update.
    await e2e.setMakoFaults({ latencyMs: 1500 });
    // No convergence: the first job leaves the re-uploaded objects to the retry under test.
    const id = await e2e.manager.createEvacuate(evac, { convergeRounds: 0 });
    const assigned = await e2e.waitForJob(id, (s) => s.results.Assigned > 0 || ended(s));
    assert.ok(!ended(assigned), assigned.state);
    const reuploaded = objectsOn(await snapshotObjects(e2e.sandbox), evac);
    assert.ok(reuploaded.length > 0);
    for (const object of reuploaded) await e2e.reupload(object);
    await e2e.clearMakoFaults();
    const first = await e2e.waitForJob(id);
    assert.equal(first.state, 'Complete');
    const mismatches = first.results.skip_breakdown?.metadata_etag_mismatch ?? 0;
    assert.ok(mismatches > 0, JSON.stringify(first.results));

    const snapshot = await snapshotObjects(e2e.sandbox);
    const retried = await e2e.waitForJob(await e2e.manager.retry(id));
    assert.equal(retried.state, 'Complete');
    assert.equal(retried.results.Complete, mismatches, JSON.stringify(retried.results));
    const result = await verifyEvacuation(e2e.sandbox, { evacuated: evac, before: snapshot });
    assert.deepEqual(result.missingCopies, []);
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
    assert.equal(result.stillOnEvacuated, 0);
  });
});
