/**
 * The check stage alone: what becomes of an assignment its agent's lane is done with
 * (checkOutcomes), written to the real store, with the real picker's reservations.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Task } from '../../../../../src/api/common.ts';
import type { BuiltAssignment } from '../../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import { checkOutcomes } from '../../../../../src/manager/jobs/evacuate/stages/check.ts';
import type { DiscoveredObject } from '../../../../../src/manager/store/index.ts';
import { useStore } from '../../../../support/store.ts';
import {
  counter,
  DEST,
  harness,
  idsOf,
  mantaObject,
  newJob,
  pickerChooser,
  statuses,
  storedAssignment,
} from '../helpers.ts';

const failedTask = (a: BuiltAssignment, id: string, status: Task['status']): Task => {
  const t = a.tasks.find((x) => x.object_id === id);
  if (!t) throw new Error(`no task ${id}`);
  return { ...t, status };
};

describe('check stage', () => {
  const fixture = useStore();

  /** A job, its context and one posted assignment of `objects` whose bytes are reserved. */
  async function posted(objects: DiscoveredObject[], settings = {}) {
    const pick = pickerChooser([DEST]);
    const h = harness({
      store: fixture.store,
      job: await newJob(fixture.store),
      chooser: pick.chooser,
      settings,
    });
    const a = await storedAssignment(h, objects);
    pick.chooser.restore(
      DEST,
      objects.map((o) => ({ id: o.id, sizeBytes: 10 })),
    );
    const outcomes = checkOutcomes(h.ctx, h.finished);
    await outcomes.posted(a);
    return { h, a, pick, outcomes };
  }

  const reservation = (pick: ReturnType<typeof pickerChooser>, id: string) => {
    const r = pick.reservations.get(`${pick.jobPrefix}${id}`);
    return r === undefined ? 'released' : r.committedAt === undefined ? 'held' : 'committed';
  };

  test('posted: the assignment is the agent’s now', async () => {
    const { h, a } = await posted([mantaObject('p1')]);
    assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'assigned');
    assert.equal(h.finished.size, 0);
  });

  test('finished: failed tasks are skipped with their reasons, the rest go to the metadata stage', async () => {
    const objects = ['f1', 'f2', 'f3', 'f4'].map((id) => mantaObject(id));
    const { h, a, pick, outcomes } = await posted(objects);
    await outcomes.finished(
      a,
      [
        failedTask(a, 'f2', { Failed: 'MD5Mismatch' }),
        failedTask(a, 'f3', { Failed: { HTTPStatusCode: 500 } }),
      ],
      Date.now() - 1000,
    );
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['f1', 'f2', 'f3', 'f4']), {
      f1: 'post_processing',
      f2: 'skipped:md5_mismatch',
      f3: 'skipped:{http_status_code:500}',
      f4: 'post_processing',
    });
    assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'agent_complete');
    const next = await h.finished.shift();
    assert.deepEqual(next.done === false && [next.value.id, next.value.state], [
      a.record.id,
      'agent_complete',
    ]);
    assert.equal(h.ctx.inFlight.metadataPending, 1);
    // Landed copies keep counting against the destination; failed ones do not.
    assert.deepEqual(
      ['f1', 'f2', 'f3', 'f4'].map((id) => reservation(pick, id)),
      ['committed', 'released', 'released', 'committed'],
    );
    assert.equal(await counter(h.metrics, 'skip_count', 'reason', 'total'), 2);
  });

  test('an MPU part the source no longer has is mpu_part_no_data; other objects keep their reason', async () => {
    const upload = randomUUID();
    const v2 = (id: string, name: string) =>
      mantaObject(id, { extra: { bucket_id: randomUUID(), name } });
    const objects = [
      v2('part1', `.mpu-parts/${upload}/1`),
      v2('part2', `.mpu-parts/${upload}/2`),
      v2('part3', `.mpu-parts/${upload}/3`),
      v2('photo', 'photos/a.jpg'),
      // A v1 object whose name merely looks like a part.
      mantaObject('v1', { extra: { name: `.mpu-parts/${upload}/4` } }),
    ];
    const { h, a, outcomes } = await posted(objects);
    await outcomes.finished(
      a,
      [
        failedTask(a, 'part1', { Failed: 'SourceObjectNotFound' }),
        failedTask(a, 'part2', { Failed: { HTTPStatusCode: 404 } }),
        failedTask(a, 'part3', { Failed: 'MD5Mismatch' }),
        failedTask(a, 'photo', { Failed: 'SourceObjectNotFound' }),
        failedTask(a, 'v1', { Failed: 'SourceObjectNotFound' }),
      ],
      Date.now(),
    );
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, idsOf(objects)), {
      part1: 'skipped:mpu_part_no_data',
      part2: 'skipped:mpu_part_no_data',
      part3: 'skipped:md5_mismatch',
      photo: 'skipped:source_object_not_found',
      v1: 'skipped:source_object_not_found',
    });
  });

  for (const [reason, state] of [
    ['assignment_rejected', 'rejected'],
    ['agent_busy', 'rejected'],
    ['agent_assignment_timeout', 'agent_unavailable'],
  ] as const) {
    test(`refused (${reason}): its objects are skipped, the assignment ${state}`, async () => {
      const { h, a, pick, outcomes } = await posted([mantaObject('r1'), mantaObject('r2')]);
      await outcomes.refused(a, reason);
      assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['r1', 'r2']), {
        r1: `skipped:${reason}`,
        r2: `skipped:${reason}`,
      });
      assert.equal((await fixture.store.getAssignment(a.record.id))?.state, state);
      assert.deepEqual(
        [reservation(pick, 'r1'), reservation(pick, 'r2')],
        ['released', 'released'],
      );
      assert.equal(h.finished.size, 0);
      assert.equal(h.ctx.placeAgain.size, 0);
    });
  }

  test('abandoned: its objects are placed again, a bounded number of times, then skipped', async () => {
    const objects = [mantaObject('x1'), mantaObject('x2')];
    const { h, a, pick, outcomes } = await posted(objects, { maxPlacementsPerObject: 2 });
    await outcomes.abandoned(a, 'destination_unreachable');
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['x1', 'x2']), {
      x1: 'unprocessed',
      x2: 'unprocessed',
    });
    assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'agent_unavailable');
    assert.deepEqual([reservation(pick, 'x1'), reservation(pick, 'x2')], ['released', 'released']);
    const again = h.ctx.placeAgain.take();
    assert.deepEqual(
      again.map((o) => [o.id, o.object?.objectId]),
      [
        ['x1', 'x1'],
        ['x2', 'x2'],
      ],
    );
    // x1 placed again, and given up again: its second placement was its last.
    const second = await storedAssignment(h, [objects[0]!]);
    await outcomes.abandoned(second, 'network_error');
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['x1', 'x2']), {
      x1: 'skipped:network_error',
      x2: 'unprocessed',
    });
    assert.equal(h.ctx.placeAgain.size, 0);
  });

  test('abandoned while the job is cancelled: nothing is placed again, its objects are skipped', async () => {
    const { h, a, outcomes } = await posted([mantaObject('y1')]);
    h.drain();
    await outcomes.abandoned(a, 'agent_assignment_no_ent');
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['y1']), {
      y1: 'skipped:agent_assignment_no_ent',
    });
    assert.equal(h.ctx.placeAgain.size, 0);
  });
});
