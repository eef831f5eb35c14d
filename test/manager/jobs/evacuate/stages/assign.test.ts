/**
 * Placement and assignment building alone, with the real destination picker over a storinfo
 * snapshot and the real store. The test consumes the stage's output as the post stage does
 * (taking each assignment off `inFlight.inTransit`): the stage ends only when nothing that
 * could give objects back is in flight.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue } from '../../../../../src/async/index.ts';
import type { BuiltAssignment } from '../../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import type { PlacedObject } from '../../../../../src/manager/jobs/evacuate/context.ts';
import { assign } from '../../../../../src/manager/jobs/evacuate/stages/assign.ts';
import type { DiscoveredObject } from '../../../../../src/manager/store/index.ts';
import { recordingLogger } from '../../../../support/log.ts';
import { useStore } from '../../../../support/store.ts';
import {
  countsOf,
  DEST,
  DEST2,
  EVAC,
  type HarnessOptions,
  harness,
  idsOf,
  mantaObject,
  newJob,
  OTHER,
  pickerChooser,
  statuses,
  storedAssignment,
  until,
} from '../helpers.ts';
import { scriptedAgents } from '../scripted-agent.ts';

/** The stage over an open input; `built` fills as the stage sends assignments. */
function start(h: ReturnType<typeof harness>) {
  const input = new BoundedQueue<PlacedObject>(64);
  const out = new BoundedQueue<BuiltAssignment>(64);
  const built: BuiltAssignment[] = [];
  const consumed = (async () => {
    for await (const a of out) {
      h.ctx.inFlight.inTransit--;
      built.push(a);
    }
  })();
  const running = assign(h.ctx, input, out).finally(() => out.close());
  const push = (objects: DiscoveredObject[]) =>
    Promise.all(objects.map((o) => input.push({ id: o.id, object: o.object })));
  const end = async () => {
    input.close();
    await running;
    await consumed;
  };
  return { input, built, running, push, end };
}

describe('assign stage', () => {
  const fixture = useStore();

  async function setUp(objects: DiscoveredObject[], o: Partial<HarnessOptions> = {}) {
    const job = await newJob(fixture.store);
    await fixture.store.recordDiscovered(job.id, objects);
    return harness({ store: fixture.store, job, ...o });
  }

  test('objects join their destination’s assignment; full ones leave at once, the rest at the end', async () => {
    const objects = Array.from({ length: 8 }, (_, i) => mantaObject(`p${i}`));
    const pick = pickerChooser([DEST, DEST2]);
    const h = await setUp(objects, { chooser: pick.chooser });
    const s = start(h);
    await s.push(objects);
    await until(() => s.built.length >= 2, 'full assignments sent while intake is open');
    assert.ok(s.built.every((a) => a.tasks.length === 3));
    await s.end();
    assert.deepEqual(
      s.built.map((a) => a.tasks.length).reduce((x, y) => x + y),
      8,
    );
    for (const a of s.built) {
      const stored = await fixture.store.getAssignment(a.record.id);
      assert.equal(stored?.state, 'init');
      assert.equal(stored?.taskCount, a.tasks.length);
      assert.equal(a.record.destShark, a.dest.manta_storage_id);
      for (const t of a.tasks) {
        assert.deepEqual(t.source, OTHER, 'copied from the copy not being evacuated');
        const o = await fixture.store.getObject(h.ctx.jobId, t.object_id);
        assert.deepEqual([o?.status, o?.destShark], ['assigned', a.dest.manta_storage_id]);
      }
    }
    assert.deepEqual(
      new Set(s.built.map((a) => a.dest.manta_storage_id)),
      new Set([DEST.manta_storage_id, DEST2.manta_storage_id]),
    );
    assert.equal(
      pick.reservations.reservedBytes(DEST.manta_storage_id) +
        pick.reservations.reservedBytes(DEST2.manta_storage_id),
      80,
    );
    assert.equal(h.ctx.inFlight.inTransit, 0);
  });

  test('skips are written to the store, never sent', async () => {
    const objects = [
      mantaObject('ok'),
      mantaObject('single', { sharks: [EVAC] }),
      mantaObject('ondest', { sharks: [EVAC, DEST] }),
    ];
    const h = await setUp(objects, {
      chooser: pickerChooser([DEST]).chooser,
      singleCopies: 'skip',
    });
    const s = start(h);
    await s.push(objects);
    await s.end();
    assert.deepEqual(
      s.built.map((a) => a.tasks.map((t) => t.object_id)),
      [['ok']],
    );
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, idsOf(objects)), {
      ok: 'assigned',
      single: 'skipped:source_is_evac_shark',
      ondest: 'skipped:object_already_on_dest_shark',
    });
    assert.equal((await countsOf(fixture.store, h.ctx.jobId))['status:skipped'], 2);
  });

  test('single copies are copied from the evacuated shark itself; any other copy is preferred', async () => {
    const objects = [
      mantaObject('single', { sharks: [EVAC] }),
      mantaObject('two', { sharks: [EVAC, OTHER] }),
    ];
    const h = await setUp(objects, { chooser: pickerChooser([DEST]).chooser });
    assert.equal(h.ctx.singleCopies, 'copy', 'the default of a new job');
    const s = start(h);
    await s.push(objects);
    await s.end();
    const tasks = new Map(s.built.flatMap((a) => a.tasks).map((t) => [t.object_id, t]));
    assert.deepEqual(tasks.get('single')?.source, EVAC, 'its only copy: the evacuated shark');
    assert.deepEqual(tasks.get('two')?.source, OTHER);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, idsOf(objects)), {
      single: 'assigned',
      two: 'assigned',
    });
  });

  test('a shark another job evacuates is never a destination (invariant 8)', async () => {
    const objects = Array.from({ length: 6 }, (_, i) => mantaObject(`e${i}`));
    const h = await setUp(objects, {
      chooser: pickerChooser([DEST, DEST2]).chooser,
      evacuating: () => [DEST2.manta_storage_id],
    });
    const s = start(h);
    await s.push(objects);
    await s.end();
    assert.deepEqual(
      new Set(s.built.map((a) => a.dest.manta_storage_id)),
      new Set([DEST.manta_storage_id]),
    );
    assert.equal(s.built.flatMap((a) => a.tasks).length, 6);
  });

  test('a shark another job finished evacuating during the run stays out (no straggler on it)', async () => {
    const objects = Array.from({ length: 6 }, (_, i) => mantaObject(`f${i}`));
    let other: string[] = [DEST2.manta_storage_id];
    const h = await setUp(objects, {
      chooser: pickerChooser([DEST, DEST2]).chooser,
      evacuating: () => other,
    });
    const s = start(h);
    await s.push(objects.slice(0, 3));
    await until(async () => s.built.flatMap((a) => a.tasks).length === 3, 'the first three placed');
    // The other job ends: DEST2 is empty now and must stay so.
    other = [];
    await s.push(objects.slice(3));
    await s.end();
    assert.deepEqual(
      new Set(s.built.map((a) => a.dest.manta_storage_id)),
      new Set([DEST.manta_storage_id]),
    );
    assert.equal(s.built.flatMap((a) => a.tasks).length, 6);
  });

  test('with no usable destination placement waits, says so, and never skips', async () => {
    const pick = pickerChooser([DEST]);
    pick.setSnapshot(undefined);
    const recorder = recordingLogger('assign');
    const objects = [mantaObject('w1')];
    const h = await setUp(objects, { chooser: pick.chooser, log: recorder.log });
    const s = start(h);
    await s.push(objects);
    const gauge = `rebalancer_job_waiting_for_destinations{job="${h.ctx.jobId}"`;
    await until(async () => (await h.metrics.text()).includes(gauge), 'the waiting gauge');
    assert.ok(recorder.records.some((r) => r.msg.startsWith('waiting for destinations')));
    assert.equal((await fixture.store.getObject(h.ctx.jobId, 'w1'))?.status, 'unprocessed');
    pick.setSnapshot([DEST]);
    await s.end();
    assert.equal(s.built.length, 1);
    assert.equal((await h.metrics.text()).includes(gauge), false, 'the gauge is gone');
  });

  test('the job stopping while placement waits rejects the stage', async () => {
    const pick = pickerChooser([DEST]);
    pick.setSnapshot(undefined);
    const objects = [mantaObject('w2')];
    const h = await setUp(objects, { chooser: pick.chooser });
    const s = start(h);
    await s.push(objects);
    await new Promise((r) => setTimeout(r, 30));
    h.abort(new Error('the manager is stopping'));
    await assert.rejects(s.running, /the manager is stopping/);
  });

  test('an agent not ready defers its objects; they are placed once it has room', async () => {
    const agents = await scriptedAgents([DEST]);
    try {
      const objects = [mantaObject('d1')];
      const h = await setUp(objects, {
        chooser: pickerChooser([DEST]).chooser,
        agents: agents.client,
        settings: { maxAssignmentsPerAgent: 1, maxBacklogPerAgent: 0 },
      });
      // The agent is busy with an assignment built before (its post does not return yet).
      const release = agents.agent(DEST).stall();
      const blocker = await storedAssignment(h, [mantaObject('blocker')]);
      h.ctx.lanes.enqueue(blocker);
      const s = start(h);
      await s.push(objects);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(s.built.length, 0, 'deferred, not placed on the avoided agent');
      assert.equal((await fixture.store.getObject(h.ctx.jobId, 'd1'))?.status, 'unprocessed');
      agents.agent(DEST).autoComplete = true;
      release();
      // Play the metadata stage: the blocker's update ends.
      const finished = await h.finished.shift();
      assert.equal(finished.done === false && finished.value.id, blocker.record.id);
      h.ctx.inFlight.metadataPending--;
      await s.end();
      assert.deepEqual(
        s.built.map((a) => a.tasks.map((t) => t.object_id)),
        [['d1']],
      );
    } finally {
      await agents.close();
    }
  });

  test('objects given back are placed again from the record they came back with', async () => {
    const objects = [mantaObject('g1')];
    const h = await setUp(objects, { chooser: pickerChooser([DEST]).chooser });
    // A finished assignment's metadata update is still running: it may give objects back.
    h.ctx.inFlight.metadataPending = 1;
    const s = start(h);
    s.input.close();
    await new Promise((r) => setTimeout(r, 30));
    let ended = false;
    void s.running.then(() => {
      ended = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(ended, false, 'waits for what is in flight');
    const live = mantaObject('g1', { sharks: [EVAC, DEST2] }).object;
    h.ctx.placeAgain.push({ id: 'g1', object: live });
    h.ctx.inFlight.metadataPending = 0;
    await s.end();
    assert.equal(s.built.length, 1);
    assert.deepEqual(s.built[0]?.tasks[0]?.source, DEST2, 'placed from the given-back record');
  });

  test('a partial assignment leaves once older than max_assignment_age', async () => {
    const objects = [mantaObject('a1')];
    const h = await setUp(objects, { settings: { maxAssignmentAgeSec: 0.05 } });
    const s = start(h);
    await s.push(objects);
    await until(() => s.built.length === 1, 'the old assignment sent');
    assert.equal(s.input.isClosed, false);
    await s.end();
  });

  test('a cancel: nothing more is placed, open assignments are dropped with their reservations', async () => {
    const objects = ['c1', 'c2', 'c3'].map((id) => mantaObject(id));
    const pick = pickerChooser([DEST]);
    const h = await setUp(objects, { chooser: pick.chooser });
    const s = start(h);
    await s.push(objects.slice(0, 2));
    await until(() => pick.reservations.reservedBytes(DEST.manta_storage_id) === 20, 'two placed');
    h.drain();
    await s.push(objects.slice(2));
    await s.end();
    assert.deepEqual(s.built, []);
    assert.equal(pick.reservations.reservedBytes(DEST.manta_storage_id), 0);
    assert.deepEqual(await countsOf(fixture.store, h.ctx.jobId), { 'status:unprocessed': 3 });
    assert.deepEqual(await fixture.store.assignmentsInStates(h.ctx.jobId, ['init']), []);
  });
});
