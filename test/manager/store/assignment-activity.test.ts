/**
 * The assignments summed per agent: one row per destination of the job (by datacenter, then
 * storage id), stored-not-posted and posted-not-finished assignments apart, the tasks of the
 * finished ones, and what was finished within the window; other jobs' assignments not counted.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AssignmentState, ManagerStore } from '../../../src/manager/store/index.ts';
import { useStore } from '../../support/store.ts';
import { idsOf, mantaObject, newJob } from '../jobs/evacuate/helpers.ts';

describe('store: assignments per agent', () => {
  const fixture = useStore();

  /** An assignment of `tasks` new objects to `shark`, moved to `state`; returns its id. */
  async function assignment(
    store: ManagerStore,
    jobId: string,
    shark: string,
    datacenter: string,
    tasks: number,
    bytes: number,
    state: AssignmentState,
  ): Promise<string> {
    const objects = Array.from({ length: tasks }, () => mantaObject(randomUUID()));
    await store.recordDiscovered(jobId, objects);
    const id = randomUUID();
    const made = await store.createAssignment(jobId, {
      id,
      destShark: shark,
      destDatacenter: datacenter,
      totalBytes: bytes,
      objectIds: idsOf(objects),
    });
    assert.ok(made);
    if (state !== 'init') assert.ok(await store.setAssignmentState(id, ['init'], state));
    return id;
  }

  test('queued, on the agent, done and done lately, per agent in one row each', async () => {
    const { store, db } = fixture;
    const job = await newJob(store);
    await store.setJobState(job.id, ['setup'], 'running');
    const a = 'a.stor.test';
    const b = 'b.stor.test';
    await assignment(store, job.id, b, 'dc2', 2, 200, 'init');
    await assignment(store, job.id, b, 'dc2', 3, 300, 'init');
    await assignment(store, job.id, b, 'dc2', 4, 400, 'assigned');
    await assignment(store, job.id, a, 'dc1', 5, 500, 'assigned');
    await assignment(store, job.id, a, 'dc1', 6, 600, 'agent_complete');
    await assignment(store, job.id, a, 'dc1', 7, 700, 'post_processed');
    const old = await assignment(store, job.id, a, 'dc1', 8, 800, 'post_processed');
    // Refused by the agent: neither held nor done.
    await assignment(store, job.id, a, 'dc1', 9, 900, 'rejected');
    await db.query(
      "UPDATE assignments SET updated_at = now() - interval '5 minutes' WHERE id = $1",
      [old],
    );
    // Another job's work on the same agent is not this job's.
    const other = await newJob(store);
    await assignment(store, other.id, a, 'dc1', 10, 1000, 'assigned');

    assert.deepEqual(await store.assignmentsPerAgent(job.id, 60_000), [
      {
        destShark: a,
        destDatacenter: 'dc1',
        queued: 0,
        onAgent: 1,
        tasksOnAgent: 5,
        objectsDone: 6 + 7 + 8,
        recentObjects: 6 + 7,
        recentBytes: 600 + 700,
      },
      {
        destShark: b,
        destDatacenter: 'dc2',
        queued: 2,
        onAgent: 1,
        tasksOnAgent: 4,
        objectsDone: 0,
        recentObjects: 0,
        recentBytes: 0,
      },
    ]);
  });

  test('a window older than the last finish counts it as lately done', async () => {
    const { store, db } = fixture;
    const job = await newJob(store);
    const id = await assignment(store, job.id, 'c.stor.test', 'dc1', 3, 30, 'post_processed');
    await db.query(
      "UPDATE assignments SET updated_at = now() - interval '90 seconds' WHERE id = $1",
      [id],
    );
    const [within] = await store.assignmentsPerAgent(job.id, 120_000);
    assert.equal(within?.recentObjects, 3);
    assert.equal(within?.recentBytes, 30);
    const [outside] = await store.assignmentsPerAgent(job.id, 60_000);
    assert.equal(outside?.recentObjects, 0);
    assert.equal(outside?.objectsDone, 3);
  });

  test('a job without assignments has no agents', async () => {
    const job = await newJob(fixture.store);
    assert.deepEqual(await fixture.store.assignmentsPerAgent(job.id, 60_000), []);
  });
});
