/**
 * The structures every stage shares (context.ts): PlaceAgain (objects given back to placement,
 * a few times each), WorkInFlight (what may still give objects back), and where placement may
 * put copies (avoidFor, isEvacuated: DESIGN invariant 8).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  avoidFor,
  isEvacuated,
  PlaceAgain,
  StageError,
  WorkInFlight,
} from '../../../../src/manager/jobs/evacuate/context.ts';
import { useStore } from '../../../support/store.ts';
import { DEST, DEST2, EVAC, harness, mantaObject } from './helpers.ts';
import { scriptedAgents } from './scripted-agent.ts';

describe('PlaceAgain', () => {
  test('an object is placed at most maxPlacements times, its first placement included', () => {
    const again = new PlaceAgain(3, () => false);
    assert.deepEqual(
      [again.allow('a'), again.allow('a'), again.allow('a'), again.allow('a')],
      [true, true, false, false],
    );
    // Each object has its own count.
    assert.equal(again.allow('b'), true);
  });

  test('nothing is placed again once the job is cancelled, and the refusal is not counted', () => {
    let draining = true;
    const again = new PlaceAgain(2, () => draining);
    assert.equal(again.allow('a'), false);
    draining = false;
    assert.equal(again.allow('a'), true, 'the refused attempt did not use up the placement');
    assert.equal(again.allow('a'), false);
  });

  test('take() hands over what is waiting, in order, once', () => {
    const again = new PlaceAgain(3, () => false);
    const a = mantaObject('a');
    const b = mantaObject('b');
    again.push({ id: a.id, object: a.object });
    again.push({ id: b.id, object: b.object });
    assert.equal(again.size, 2);
    assert.deepEqual(
      again.take().map((o) => o.id),
      ['a', 'b'],
    );
    assert.equal(again.size, 0);
    assert.deepEqual(again.take(), []);
  });
});

describe('WorkInFlight', () => {
  test('any is true while an assignment is in transit or a metadata update pending', () => {
    const w = new WorkInFlight();
    assert.equal(w.any, false);
    w.inTransit++;
    assert.equal(w.any, true);
    w.inTransit--;
    w.metadataPending += 2;
    assert.equal(w.any, true);
    w.metadataPending -= 2;
    assert.equal(w.any, false);
  });
});

describe('StageError', () => {
  test('names the stage and keeps the cause', () => {
    const cause = new Error('shard 7 unreachable');
    const err = new StageError('discovery', cause);
    assert.equal(err.message, 'discovery failed: shard 7 unreachable');
    assert.equal(err.code, 'stage_failed');
    assert.equal(err.cause, cause);
    assert.equal(new StageError('x', 'text').message, 'x failed: text');
  });
});

describe('avoidFor and isEvacuated', () => {
  const fixture = useStore();

  test('never: this job and every other evacuated shark; later: the lanes not ready', async () => {
    const agents = await scriptedAgents([DEST]);
    try {
      let others = [DEST2.manta_storage_id];
      const job = { id: 'j1', fromShark: EVAC, retryOf: undefined };
      const h = harness({
        store: fixture.store,
        job,
        agents: agents.client,
        evacuating: () => others,
        settings: { maxAssignmentsPerAgent: 1, maxBacklogPerAgent: 0 },
      });
      assert.deepEqual(avoidFor(h.ctx), {
        never: new Set([DEST2.manta_storage_id, EVAC.manta_storage_id]),
        later: new Set(),
      });
      assert.equal(isEvacuated(h.ctx, EVAC.manta_storage_id), true);
      assert.equal(isEvacuated(h.ctx, DEST2.manta_storage_id), true);
      assert.equal(isEvacuated(h.ctx, DEST.manta_storage_id), false);
      // An agent holding as much as it may is avoided for now, not forever.
      const release = agents.agent(DEST).stall();
      h.ctx.lanes.enqueue({ record: fakeRecord(job.id), dest: DEST, tasks: [] });
      assert.deepEqual(avoidFor(h.ctx).later, new Set([DEST.manta_storage_id]));
      // Read live each time, and kept once seen: a shark another job finished draining stays out.
      others = [DEST.manta_storage_id];
      assert.equal(isEvacuated(h.ctx, DEST.manta_storage_id), true, 'read live each time');
      others = [];
      assert.equal(isEvacuated(h.ctx, DEST2.manta_storage_id), true, 'kept once seen');
      h.abort();
      release();
    } finally {
      await agents.close();
    }
  });
});

function fakeRecord(jobId: string) {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    jobId,
    destShark: DEST.manta_storage_id,
    destDatacenter: DEST.datacenter,
    state: 'init' as const,
    taskCount: 0,
    totalBytes: 0,
    createdAt: new Date(),
    postedAt: undefined,
  };
}
