/**
 * The dry run's executor over the real store and the real destination picker: what it records
 * (skips with their reasons, movable objects left unprocessed), the plan's numbers (per reason,
 * per destination fill, per datacenter room, the estimate at the job's limits as they are at
 * the end), its reservations (one per destination while it runs, none after), waiting for
 * storinfo, cancel, max_objects and the sharks other jobs evacuate.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobPlan } from '../../../../src/api/plan.ts';
import type { SourceEvent } from '../../../../src/manager/jobs/evacuate/types.ts';
import { PlanJobError } from '../../../../src/manager/jobs/plan/executor.ts';
import { fillLimitedCapacityBytes } from '../../../../src/storinfo/index.ts';
import { useStore } from '../../../support/store.ts';
import {
  countsOf,
  DEST,
  DEST2,
  EVAC,
  mantaObject,
  newJob,
  OTHER,
  until,
} from '../evacuate/helpers.ts';
import { MIB, newPlanJob, node, planFixture, runPlan, scriptedSource } from './helpers.ts';

const FAR = { manta_storage_id: '5.stor.test', datacenter: 'dc2' };

const obj = (id: string, o: Parameters<typeof mantaObject>[1] = {}): SourceEvent => ({
  kind: 'object',
  object: mantaObject(id, o),
});

/** DEST: 10 000 MiB free at 50 % (total 20 000); DEST2: 20 000 free at 20 % (total 25 000). */
const NODES = [
  node(DEST, 10_000, 50),
  node(DEST2, 20_000, 20),
  node(OTHER, 100_000, 1),
  node(FAR, 50_000, 0),
];

/** Seven movable objects (one v2), one of each reason that keeps an object where it is. */
const EVENTS: SourceEvent[] = [
  ...[1, 2, 3, 4, 5, 6].map((i) => obj(`ok${i}`, { size: i * MIB, shard: 1 + (i % 2) })),
  obj('v2', { size: MIB, extra: { bucket_id: 'b1', name: 'n1' } }),
  obj('single', { size: 2 * MIB, sharks: [EVAC] }),
  obj('huge', { size: 30_000 * MIB }),
  obj('indc', { size: 3 * MIB, sharks: [EVAC, DEST, DEST2, OTHER] }),
  {
    kind: 'excluded',
    object: { id: 'ex', key: '/acct/stor/logs/ex', shard: 1, etag: 'e', object: undefined },
  },
  { kind: 'malformed', shard: 1, key: '/acct/stor/bad', problem: 'sharks is missing' },
  obj('ok1', { size: MIB, shard: 3 }), // a snaplink: same object on another shard
  { kind: 'checkpoint', checkpoint: { shard: 1, cursor: '1', done: true } },
];

/** fill = used / total, with the plan's bytes added to used. */
const fillAfter = (totalMiB: number, usedMiB: number, bytes: number) =>
  Math.round(((usedMiB * MIB + bytes) / (totalMiB * MIB)) * 10_000) / 100;

describe('dry run executor', () => {
  const fx = useStore();

  test('records what cannot move with its reason and plans the rest, nothing left reserved', async () => {
    const fixture = planFixture(scriptedSource(EVENTS), NODES, { storePage: 2 });
    const job = await newPlanJob(fx.store, { limits: { objects_per_second: 2 } });
    const seen = { pending: 0, bytes: 0 };
    fixture.onPicker = () => {
      const s = fixture.reservations.stats();
      seen.pending = Math.max(seen.pending, s.pending);
      seen.bytes = Math.max(seen.bytes, s.bytes);
    };
    const run = runPlan(fixture, fx.store, job);
    await run.done;
    const plan = await fx.store.getPlan(job.id);
    assert.ok(plan);

    assert.deepEqual(plan.move, {
      objects: 7,
      bytes: 22 * MIB,
      v1: { objects: 6, bytes: 21 * MIB },
      v2: { objects: 1, bytes: MIB },
    });
    assert.deepEqual(plan.cannot_move, {
      objects: 5,
      bytes: 30_005 * MIB,
      reasons: {
        source_is_evac_shark: { objects: 1, bytes: 2 * MIB },
        destination_insufficient_space: { objects: 1, bytes: 30_000 * MIB },
        object_already_in_datacenter: { objects: 1, bytes: 3 * MIB },
        excluded_key_prefix: { objects: 1, bytes: 0 },
        bad_manta_object: { objects: 1, bytes: 0 },
      },
    });
    // The job's own counters say the same: skip_breakdown lists the reasons, movable ones wait.
    const counts = await countsOf(fx.store, job.id);
    assert.equal(counts['status:unprocessed'], 7);
    assert.equal(counts['status:skipped'], 4);
    assert.equal(counts['status:error'], 1);
    assert.equal(counts['skip:source_is_evac_shark'], 1);
    assert.equal(counts['skip:destination_insufficient_space'], 1);
    assert.equal(counts['skip:object_already_in_datacenter'], 1);
    assert.equal(counts['skip:excluded_key_prefix'], 1);
    assert.equal(counts['duplicates:duplicates'], 1);
    assert.equal(counts['status:assigned'], undefined, 'nothing was assigned');

    // Destinations: only dc1's two sharks may take them; fill from storinfo's numbers.
    const ids = plan.destinations.map((d) => d.manta_storage_id);
    assert.deepEqual(ids, [DEST.manta_storage_id, DEST2.manta_storage_id]);
    assert.equal(
      plan.destinations.reduce((s, d) => s + d.objects, 0),
      7,
    );
    assert.equal(
      plan.destinations.reduce((s, d) => s + d.bytes, 0),
      22 * MIB,
    );
    const [d1, d2] = plan.destinations;
    assert.ok(d1 && d2);
    assert.equal(d1.fill_before_percent, 50);
    assert.equal(d1.fill_after_percent, fillAfter(20_000, 10_000, d1.bytes));
    assert.equal(d2.fill_before_percent, 20);
    assert.equal(d2.fill_after_percent, fillAfter(25_000, 5_000, d2.bytes));
    assert.ok(d1.fill_after_percent > 50 || d1.bytes === 0);

    // Datacenters: dc1 takes everything; its room under the fill limit shrinks by that much.
    assert.deepEqual(plan.datacenters, [
      {
        datacenter: 'dc1',
        objects: 7,
        bytes: 22 * MIB,
        available_bytes_before: 30_000 * MIB,
        available_bytes_after: 30_000 * MIB - 22 * MIB,
      },
      {
        datacenter: 'dc2',
        objects: 0,
        bytes: 0,
        available_bytes_before: 150_000 * MIB,
        available_bytes_after: 150_000 * MIB,
      },
    ]);
    assert.equal(plan.estimated_seconds, 4, '7 objects at 2/s');
    assert.equal(plan.estimate_basis, 'objects_per_second');
    assert.equal(plan.job_id, job.id);
    assert.equal(plan.from_shark, EVAC.manta_storage_id);

    // While it ran, later pages saw the earlier ones' bytes, in one entry per destination.
    assert.ok(fixture.pickers >= 4, `paged (${fixture.pickers} pickers)`);
    assert.ok(seen.bytes > 0, 'placements were reserved while the plan ran');
    assert.ok(seen.pending <= 2, `reservation entries ${seen.pending} <= destinations`);
    assert.deepEqual(fixture.reservations.stats(), {
      pending: 0,
      committed: 0,
      bytes: 0,
      unknownEnds: 0,
    });
  });

  test('a destination fills up: later objects see the plan’s earlier copies', async () => {
    const nodes = [node(DEST, 10, 0)]; // 10 MiB of room
    const events = ['a', 'b', 'c'].map((id) => obj(id, { size: 4 * MIB }));
    const fixture = planFixture(scriptedSource(events), nodes);
    const job = await newPlanJob(fx.store);
    await runPlan(fixture, fx.store, job).done;
    const plan = await fx.store.getPlan(job.id);
    assert.equal(plan?.move.objects, 2);
    assert.deepEqual(plan?.cannot_move.reasons, {
      destination_insufficient_space: { objects: 1, bytes: 4 * MIB },
    });
    assert.equal(plan?.destinations[0]?.fill_after_percent, 80);
    assert.equal(plan?.datacenters[0]?.available_bytes_after, 2 * MIB);
  });

  test('the estimate uses the limits the job has at the end', async () => {
    const events = [1, 2, 3, 4].map((i) => obj(`l${i}`, { size: 5 * MIB, shard: 1 }));
    const fixture = planFixture(scriptedSource(events), NODES, { storePage: 1 });
    const job = await newPlanJob(fx.store, { limits: { objects_per_second: 1 } });
    const run = runPlan(fixture, fx.store, job);
    fixture.onPicker = () =>
      run.controls().setLimits?.({
        objects_per_second: 100,
        bytes_per_second: MIB,
        metadata_updates_per_second: 2,
      });
    await run.done;
    const plan = await fx.store.getPlan(job.id);
    assert.equal(plan?.estimate_basis, 'bytes_per_second');
    assert.equal(plan?.estimated_seconds, 20, '20 MiB at 1 MiB/s');
  });

  test('no limit: no estimate', async () => {
    const fixture = planFixture(scriptedSource([obj('n1')]), NODES);
    const job = await newPlanJob(fx.store);
    await runPlan(fixture, fx.store, job).done;
    const plan = await fx.store.getPlan(job.id);
    assert.equal(plan?.estimated_seconds, null);
    assert.equal(plan?.estimate_basis, 'no limit set');
  });

  test('without a storinfo snapshot it waits (saying so), never skips', async () => {
    const fixture = planFixture(scriptedSource([obj('w1'), obj('w2')]), undefined);
    const job = await newPlanJob(fx.store);
    const run = runPlan(fixture, fx.store, job);
    await until(() => (run.controls().blockers?.() ?? []).length > 0, 'a storinfo blocker');
    const [blocker] = run.controls().blockers?.() ?? [];
    assert.equal(blocker?.source, 'storinfo');
    assert.deepEqual(await countsOf(fx.store, job.id), {
      'status:unprocessed': 2,
    });
    fixture.setNodes(NODES);
    await run.done;
    assert.deepEqual(run.controls().blockers?.(), []);
    const plan = await fx.store.getPlan(job.id);
    assert.equal(plan?.move.objects, 2);
    assert.equal(plan?.cannot_move.objects, 0);
  });

  test('cancel during placement ends it without a plan and releases what it reserved', async () => {
    const events = [obj('c1'), obj('c2'), obj('c3')];
    const fixture = planFixture(scriptedSource(events), NODES, { storePage: 1 });
    const job = await newPlanJob(fx.store);
    const run = runPlan(fixture, fx.store, job);
    let reservedAtCancel = 0;
    fixture.onPicker = () => {
      if (fixture.pickers !== 2) return;
      reservedAtCancel = fixture.reservations.stats().bytes;
      run.controls().cancel();
    };
    await run.done;
    assert.equal(reservedAtCancel, 10, 'the first page was reserved');
    assert.equal(await fx.store.getPlan(job.id), undefined);
    assert.equal(fixture.reservations.stats().bytes, 0);
    assert.equal(fixture.reservations.stats().pending, 0);
  });

  test('cancel while waiting for storinfo ends it', async () => {
    const fixture = planFixture(scriptedSource([obj('cw1')]), undefined);
    const job = await newPlanJob(fx.store);
    const run = runPlan(fixture, fx.store, job);
    await until(() => (run.controls().blockers?.() ?? []).length > 0, 'waiting');
    run.controls().cancel();
    await run.done;
    assert.equal(await fx.store.getPlan(job.id), undefined);
  });

  test('cancel during discovery ends the scan', async () => {
    let stop: (() => void) | undefined;
    const source = scriptedSource([obj('s1'), obj('s2'), obj('s3')], async (i) => {
      if (i === 1) stop?.();
    });
    const fixture = planFixture(source, NODES);
    const job = await newPlanJob(fx.store);
    const run = runPlan(fixture, fx.store, job);
    stop = () => run.controls().cancel();
    await run.done;
    assert.equal(await fx.store.getPlan(job.id), undefined);
    assert.equal(fixture.pickers, 0, 'placement never started');
    assert.equal((await fx.store.getJob(job.id))?.discoveredAt, undefined);
  });

  test('max_objects is honoured as a real run honours it', async () => {
    const events = [1, 2, 3, 4, 5].map((i) => obj(`mx${i}`));
    const fixture = planFixture(scriptedSource(events), NODES);
    const job = await newPlanJob(fx.store, { maxObjects: 3 });
    await runPlan(fixture, fx.store, job).done;
    const plan = await fx.store.getPlan(job.id);
    assert.equal(plan?.move.objects, 3);
    assert.ok((await fx.store.getJob(job.id))?.discoveredAt, 'discovery ended');
  });

  test('sharks other jobs evacuate are never destinations', async () => {
    const events = [1, 2, 3, 4].map((i) => obj(`ev${i}`));
    const fixture = planFixture(scriptedSource(events), NODES);
    const job = await newPlanJob(fx.store);
    await runPlan(fixture, fx.store, job, () => new Set([DEST.manta_storage_id])).done;
    const plan = (await fx.store.getPlan(job.id)) as JobPlan;
    assert.deepEqual(
      plan.destinations.map((d) => [d.manta_storage_id, d.objects]),
      [[DEST2.manta_storage_id, 4]],
    );
    // Its room is not offered either.
    const dc1 = plan.datacenters.find((d) => d.datacenter === 'dc1');
    assert.equal(dc1?.available_bytes_before, fillLimitedCapacityBytes(NODES[1]!, 100));
  });

  test('a job that is not a dry run is refused', async () => {
    const fixture = planFixture(scriptedSource([]), NODES);
    const job = await newJob(fx.store);
    await assert.rejects(runPlan(fixture, fx.store, job).done, PlanJobError);
  });
});
