/**
 * A dry run interrupted (the manager stopped) during discovery or during placement and run
 * again, as the runner resumes it, gives the plan an uninterrupted one gives: discovery resumes
 * after its checkpoints (objects re-sent since are not counted twice), placement starts over on
 * what is still unprocessed, and what an earlier run skipped still counts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobPlan } from '../../../../src/api/plan.ts';
import type { SourceEvent } from '../../../../src/manager/jobs/evacuate/types.ts';
import type { JobRecord, ManagerStore } from '../../../../src/manager/store/index.ts';
import { useStore } from '../../../support/store.ts';
import { countsOf, DEST, DEST2, EVAC, mantaObject, OTHER } from '../evacuate/helpers.ts';
import {
  MIB,
  newPlanJob,
  node,
  type PlanFixture,
  planFixture,
  runPlan,
  scriptedSource,
  withCheckpoints,
} from './helpers.ts';

const NODES = [node(DEST, 2_000, 10), node(DEST2, 3_000, 40), node(OTHER, 5_000, 5)];

function events(): SourceEvent[] {
  const objects: SourceEvent[] = Array.from({ length: 14 }, (_, i) => ({
    kind: 'object',
    object: mantaObject(`r${String(i).padStart(2, '0')}`, {
      size: (i + 1) * MIB,
      shard: 1 + (i % 3),
      ...(i % 5 === 0 ? { sharks: [EVAC] } : {}),
      ...(i % 4 === 0 ? { extra: { bucket_id: 'b', name: `n${i}` } } : {}),
    }),
  }));
  objects.push({
    kind: 'excluded',
    object: { id: 'rx', key: '/acct/stor/logs/rx', shard: 1, etag: 'e', object: undefined },
  });
  objects.push({ kind: 'object', object: mantaObject('r03', { shard: 9, size: 4 * MIB }) });
  return withCheckpoints(objects, 3);
}

/** What must not depend on the interruption. */
function totals(plan: JobPlan | undefined) {
  assert.ok(plan, 'a plan was saved');
  return {
    move: plan.move,
    cannot_move: plan.cannot_move,
    destination_objects: plan.destinations.reduce((s, d) => s + d.objects, 0),
    destination_bytes: plan.destinations.reduce((s, d) => s + d.bytes, 0),
    datacenters: plan.datacenters.map((d) => [d.datacenter, d.objects, d.bytes]),
    estimate: [plan.estimated_seconds, plan.estimate_basis],
  };
}

async function fresh(store: ManagerStore, id: string): Promise<JobRecord> {
  const job = await store.getJob(id);
  assert.ok(job);
  return job;
}

/** Runs the plan until `interrupt` stops it, then again to its end. */
async function interrupted(
  store: ManagerStore,
  fixture: PlanFixture,
  job: JobRecord,
  arm: (stop: (() => void) | undefined) => void,
  between: () => Promise<void>,
): Promise<JobPlan | undefined> {
  const first = runPlan(fixture, store, job);
  arm(() => first.abort(new Error('manager stopped')));
  await assert.rejects(first.done, /manager stopped/);
  assert.equal(await store.getPlan(job.id), undefined, 'an interrupted plan saves nothing');
  assert.equal(fixture.reservations.stats().bytes, 0, 'its reservations were released');
  await between();
  arm(undefined);
  await runPlan(fixture, store, await fresh(store, job.id)).done;
  return store.getPlan(job.id);
}

describe('a resumed dry run', () => {
  const fx = useStore();
  const settings = { recordBatch: 2, storePage: 3, outcomeBatch: 1 };
  const limits = { objects_per_second: 3, metadata_updates_per_second: 1 };

  test('gives the same plan after an interruption in discovery or in placement', async () => {
    const whole = await newPlanJob(fx.store, { limits });
    await runPlan(planFixture(scriptedSource(events()), NODES, settings), fx.store, whole).done;
    const expected = totals(await fx.store.getPlan(whole.id));
    assert.equal(expected.move.objects, 11);
    assert.equal(expected.cannot_move.reasons.source_is_evac_shark?.objects, 3);
    const expectedCounts = await countsOf(fx.store, whole.id);

    // Stopped in discovery, after objects past the last checkpoint were recorded.
    let stopAt: (() => void) | undefined;
    const source = scriptedSource(events(), (i) => {
      if (i === 10 && source.scans === 1) stopAt?.();
    });
    const inDiscovery = await newPlanJob(fx.store, { limits });
    const plan1 = await interrupted(
      fx.store,
      planFixture(source, NODES, settings),
      inDiscovery,
      (stop) => {
        stopAt = stop;
      },
      async () => {
        const counts = await countsOf(fx.store, inDiscovery.id);
        assert.ok((counts['status:unprocessed'] ?? 0) > 0, 'some objects were recorded');
        assert.equal((await fresh(fx.store, inDiscovery.id)).discoveredAt, undefined);
      },
    );
    assert.equal(source.scans, 2);
    assert.deepEqual(totals(plan1), expected);
    assert.deepEqual(await countsOf(fx.store, inDiscovery.id), expectedCounts);

    // Stopped in placement, some objects already skipped, others placed (in memory only).
    const fixture = planFixture(scriptedSource(events()), NODES, settings);
    const inPlacement = await newPlanJob(fx.store, { limits });
    const plan2 = await interrupted(
      fx.store,
      fixture,
      inPlacement,
      (stop) => {
        fixture.onPicker = stop && (() => fixture.pickers === 3 && stop());
      },
      async () => {
        const counts = await countsOf(fx.store, inPlacement.id);
        assert.ok((counts['status:skipped'] ?? 0) > 1, 'placement had skipped some');
        assert.ok((counts['status:unprocessed'] ?? 0) > 0);
      },
    );
    assert.deepEqual(totals(plan2), expected);
    assert.deepEqual(await countsOf(fx.store, inPlacement.id), expectedCounts);
  });
});
