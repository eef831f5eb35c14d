/**
 * The progress tracker over a real store: totals and the estimate before discovery ends, rates
 * and an ETA from counters moved over time by real transitions (a steady synthetic run, real
 * timers), stalls with their reason, and the events they leave.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobPlan } from '../../../src/api/plan.ts';
import type { JobProgress } from '../../../src/api/progress.ts';
import {
  ProgressTracker,
  type ProgressTrackerOptions,
  usedBytesOf,
} from '../../../src/manager/jobs/progress.ts';
import type { Blocker } from '../../../src/manager/jobs/runner.ts';
import type { JobRecord, ManagerStore } from '../../../src/manager/store/index.ts';
import { useStore } from '../../support/store.ts';
import { EVAC, idsOf, mantaObject, newJob, silent, until } from './evacuate/helpers.ts';

/** A running job with `n` recorded objects of `size` bytes each. */
async function runningJob(
  store: ManagerStore,
  n: number,
  { size = 100, discovered = false, maxObjects = null as number | null } = {},
): Promise<{ job: JobRecord; ids: string[] }> {
  const job =
    maxObjects === null
      ? await newJob(store)
      : await store.createJob({
          id: randomUUID(),
          action: 'evacuate',
          params: { from_shark: EVAC.manta_storage_id, max_objects: maxObjects },
          fromShark: EVAC,
          metadataThreads: 2,
        });
  const objects = Array.from({ length: n }, () => mantaObject(randomUUID(), { size }));
  await store.recordDiscovered(job.id, objects);
  if (discovered) await store.setJobDiscovered(job.id);
  await store.setJobState(job.id, ['setup'], 'running');
  return { job: await fresh(store, job.id), ids: idsOf(objects) };
}

async function fresh(store: ManagerStore, id: string): Promise<JobRecord> {
  const job = await store.getJob(id);
  assert.ok(job);
  return job;
}

/** Moves `ids` through to complete, as the checker and the metadata stage would. */
function complete(store: ManagerStore, jobId: string, ids: readonly string[]) {
  return store.transition(jobId, [
    { select: { ids }, from: 'unprocessed', to: { status: 'post_processing' } },
    { select: { ids }, from: 'post_processing', to: { status: 'complete' } },
  ]);
}

function plan(jobId: string, objects: number, cannot: number, bytes: number): JobPlan {
  const none = { objects: 0, bytes: 0 };
  return {
    job_id: jobId,
    from_shark: EVAC.manta_storage_id,
    move: { objects, bytes, v1: { objects, bytes }, v2: none },
    cannot_move: { objects: cannot, bytes: 0, reasons: {} },
    destinations: [],
    datacenters: [],
    estimated_seconds: null,
    estimate_basis: 'no limit',
    created_at: new Date().toISOString(),
  };
}

describe('ProgressTracker', () => {
  const fixture = useStore();
  const trackers: ProgressTracker[] = [];
  afterEach(async () => {
    for (const t of trackers.splice(0)) await t.stop();
  });

  /** A tracker of the jobs in `running`, with what the test sets as blockers and storinfo. */
  function tracker({
    running = new Set<string>(),
    ...over
  }: Partial<Omit<ProgressTrackerOptions, 'running'>> & { running?: Set<string> } = {}) {
    const state = {
      blockers: [] as Blocker[],
      used: new Map<string, number>(),
      stallAfterMs: 60_000,
    };
    const t = new ProgressTracker({
      store: fixture.store,
      running: () => running,
      blockers: () => state.blockers,
      sharkUsedBytes: (id) => state.used.get(id),
      stallAfterMs: () => state.stallAfterMs,
      log: silent,
      sampleIntervalMs: 50,
      minRateSpanMs: 200,
      ...over,
    });
    trackers.push(t);
    return { t, state, running };
  }

  async function progressOf(t: ProgressTracker, id: string): Promise<JobProgress> {
    const store = fixture.store;
    return t.progress(await fresh(store, id), await store.counts(id));
  }

  test('settled objects and bytes; totals exact once discovery ended', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 10, { discovered: true });
    await complete(store, job.id, ids.slice(0, 2));
    await store.transition(job.id, [
      {
        select: { ids: [ids[2] as string] },
        from: 'unprocessed',
        to: { status: 'skipped', reason: 'source_is_evac_shark' },
      },
      {
        select: { ids: [ids[3] as string] },
        from: 'unprocessed',
        to: { status: 'error', error: 'bad_manta_object' },
      },
    ]);
    const { t } = tracker();
    assert.deepEqual(await progressOf(t, job.id), {
      objects_done: 4,
      objects_total: 10,
      bytes_done: 200,
      // The skipped and the failed object move nothing.
      bytes_total: 800,
      total_is_estimate: false,
      objects_per_second: 0,
      bytes_per_second: 0,
      eta_seconds: null,
      stalled: null,
    });
  });

  test('before discovery ends: an estimate from the newest plan, else storinfo, capped by max_objects', async () => {
    const { store } = fixture;
    const { job } = await runningJob(store, 10, { size: 100 });
    const { t, state } = tracker();
    let p = await progressOf(t, job.id);
    assert.equal(p.total_is_estimate, true);
    assert.deepEqual([p.objects_total, p.bytes_total], [10, 1000], 'nothing to estimate from');

    // 50,000 bytes used at 100 bytes an object so far: about 500 objects.
    state.used.set(EVAC.manta_storage_id, 50_000);
    p = await progressOf(t, job.id);
    assert.deepEqual([p.objects_total, p.bytes_total, p.total_is_estimate], [500, 50_000, true]);

    // A dry run of the shark planned 700 to move and 100 that cannot: its plan wins.
    const dry = await newJob(store);
    await store.savePlan(dry.id, plan(dry.id, 700, 100, 70_000));
    p = await progressOf(t, job.id);
    assert.deepEqual([p.objects_total, p.bytes_total], [800, 70_000]);

    const capped = await runningJob(store, 10, { maxObjects: 300 });
    assert.equal((await progressOf(t, capped.job.id)).objects_total, 300);

    await store.setJobDiscovered(job.id);
    p = await progressOf(t, job.id);
    assert.deepEqual([p.objects_total, p.bytes_total, p.total_is_estimate], [10, 1000, false]);
  });

  test('storinfo used bytes from free MiB and percent used', () => {
    assert.equal(usedBytesOf({ availableMB: 300, percentUsed: 25 }), 100 * 1024 * 1024);
    assert.equal(usedBytesOf({ availableMB: 100, percentUsed: 0 }), 0);
    assert.equal(usedBytesOf({ availableMB: 0, percentUsed: 100 }), undefined);
  });

  test('no rate and no ETA before the samples span long enough, when paused, when finished', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 20, { discovered: true });
    const { t, running } = tracker({ minRateSpanMs: 60_000, running: new Set() });
    running.add(job.id);
    await t.sample();
    await complete(store, job.id, ids.slice(0, 5));
    await t.sample();
    let p = await progressOf(t, job.id);
    assert.deepEqual([p.objects_done, p.objects_per_second, p.eta_seconds], [5, 0, null]);

    const quick = tracker({ minRateSpanMs: 0, running: new Set([job.id]) }).t;
    await quick.sample();
    await sleep(20);
    await complete(store, job.id, ids.slice(5, 10));
    p = await progressOf(quick, job.id);
    assert.ok(p.objects_per_second > 0 && p.eta_seconds !== null, 'a rate, so an ETA');

    await store.setJobState(job.id, ['running'], 'paused');
    p = await progressOf(quick, job.id);
    assert.deepEqual([p.objects_per_second, p.eta_seconds], [0, null], 'paused');
    await store.setJobState(job.id, ['paused'], 'complete');
    p = await progressOf(quick, job.id);
    assert.deepEqual([p.eta_seconds, p.stalled], [null, null], 'finished');
  });

  test('no ETA while discovery runs, though objects settle at a measured rate, nor once all settled', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 20);
    const { t } = tracker({ minRateSpanMs: 0, running: new Set([job.id]) });
    await complete(store, job.id, ids.slice(0, 5));
    await t.sample();
    await sleep(20);
    await complete(store, job.id, ids.slice(5, 10));
    let p = await progressOf(t, job.id);
    assert.ok(p.objects_per_second > 0, 'a rate');
    assert.deepEqual(
      [p.total_is_estimate, p.eta_seconds],
      [true, null],
      'but the total is a guess',
    );
    await store.setJobDiscovered(job.id);
    p = await progressOf(t, job.id);
    assert.equal(p.eta_seconds, null, 'no ETA from what settled while discovery ran');
    await t.sample();
    await sleep(20);
    await complete(store, job.id, ids.slice(10, 15));
    p = await progressOf(t, job.id);
    assert.ok(p.eta_seconds !== null, 'an ETA once the total is known and a rate after it');
    await complete(store, job.id, ids.slice(15));
    p = await progressOf(t, job.id);
    assert.deepEqual(
      [p.objects_done, p.eta_seconds],
      [20, null],
      'all settled: what is left is no rate',
    );
  });

  test('the rate and ETA count from the end of discovery, not from the slower pace during it', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 200);
    const { t } = tracker({ minRateSpanMs: 150, running: new Set([job.id]) });
    // While the scan runs: 10 objects over some 400 ms.
    for (let i = 0; i < 8; i++) {
      await complete(store, job.id, ids.slice(i, i + 1));
      await t.sample();
      await sleep(50);
    }
    await complete(store, job.id, ids.slice(8, 10));
    await store.setJobDiscovered(job.id);
    await t.sample();
    assert.equal((await progressOf(t, job.id)).eta_seconds, null, 'too short since discovery');
    const fast = performance.now();
    for (let i = 0; i < 4; i++) {
      await sleep(50);
      await complete(store, job.id, ids.slice(10 + 10 * i, 20 + 10 * i));
      await t.sample();
    }
    const p = await progressOf(t, job.id);
    const measured = (40 * 1000) / (performance.now() - fast);
    // Counted from before discovery ended, the rate would be about half of this.
    assert.ok(
      p.objects_per_second >= 0.8 * measured,
      `${p.objects_per_second} vs ${measured} obj/s`,
    );
    assert.ok(p.eta_seconds !== null && p.eta_seconds <= (150 / measured) * 1.25);
  });

  test('the rate and ETA start at the first settled object, not at the quiet start', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 100, { discovered: true });
    const { t } = tracker({ minRateSpanMs: 150, running: new Set([job.id]) });
    // The job's start-up: sampled for a while with nothing settled.
    for (let i = 0; i < 6; i++) {
      await t.sample();
      await sleep(50);
    }
    assert.equal((await progressOf(t, job.id)).eta_seconds, null, 'nothing settled yet');
    await complete(store, job.id, ids.slice(0, 10));
    await t.sample();
    assert.equal((await progressOf(t, job.id)).eta_seconds, null, 'settling for too short');
    const settling = performance.now();
    await sleep(200);
    await complete(store, job.id, ids.slice(10, 30));
    const p = await progressOf(t, job.id);
    const measured = (20 * 1000) / (performance.now() - settling);
    // Counted from the quiet start, the rate would be under half of this.
    assert.ok(p.objects_per_second >= 0.8 * measured, `${p.objects_per_second} obj/s`);
    assert.ok(p.eta_seconds !== null && p.eta_seconds <= (70 / measured) * 1.25);
  });

  test('a steady run: the ETA is within 25% of the real remaining time from 10% on', async () => {
    const { store } = fixture;
    const total = 1000;
    const perSecond = 250;
    const size = 1000;
    const { job, ids } = await runningJob(store, total, { size, discovered: true });
    const { t } = tracker({ sampleIntervalMs: 200, running: new Set([job.id]) });
    t.start();
    const started = performance.now();
    const observed: { at: number; fraction: number; p: JobProgress }[] = [];
    const observe = async () => {
      while (observed.at(-1)?.p.objects_done !== total) {
        const p = await progressOf(t, job.id);
        observed.push({ at: performance.now(), fraction: p.objects_done / total, p });
        await sleep(100);
      }
    };
    const drive = async () => {
      let done = 0;
      while (done < total) {
        const due = Math.min(total, Math.floor(((performance.now() - started) * perSecond) / 1000));
        if (due > done) await complete(store, job.id, ids.slice(done, due));
        done = due;
        await sleep(20);
      }
      return performance.now();
    };
    const [ended] = await Promise.all([drive(), observe()]);
    // The run is steady where the driver kept to its schedule; where a stalled machine made it
    // fall behind and catch up, the remaining time is the catch-up's, not the run's.
    const onSchedule = (o: { at: number; fraction: number }) =>
      Math.abs(o.fraction - ((o.at - started) * perSecond) / 1000 / total) <= 0.03;
    const checked = observed.filter((o) => o.fraction >= 0.1 && o.fraction < 1 && onSchedule(o));
    assert.ok(checked.length >= 12, `observed ${checked.length} steady times during the run`);
    for (const { at, fraction, p } of checked) {
      const real = (ended - at) / 1000;
      assert.ok(p.eta_seconds !== null, `an ETA at ${Math.round(fraction * 100)}%`);
      // Plus what this compressed run cannot resolve near its end: the ETA's 0.1 s steps and
      // the driver's 20 ms ticks (seconds of a real job's last minutes).
      assert.ok(
        Math.abs(p.eta_seconds - real) <= 0.25 * real + 0.15,
        `at ${Math.round(fraction * 100)}%: ETA ${p.eta_seconds}s, really ${real.toFixed(2)}s`,
      );
      assert.ok(Math.abs(p.objects_per_second - perSecond) <= 0.25 * perSecond);
      assert.ok(Math.abs(p.bytes_per_second - perSecond * size) <= 0.25 * perSecond * size);
    }
  });

  test('stalled after stall_after with what the blockers answer; unstalled once it moves; one event a change', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 10, { discovered: true });
    const { t, state } = tracker({ running: new Set([job.id]) });
    state.stallAfterMs = 300;
    state.blockers = [
      { source: 'agent 3.stor.test', problem: 'connect ECONNREFUSED', since: Date.now() - 125_000 },
    ];
    const before = Date.now();
    t.start();
    await until(async () => (await progressOf(t, job.id)).stalled !== null, 'stalled');
    const stalled = (await progressOf(t, job.id)).stalled;
    assert.equal(stalled?.reason, 'agent 3.stor.test: connect ECONNREFUSED (since 2m)');
    const since = Date.parse(stalled?.since ?? '');
    assert.ok(since >= before && since <= before + 300, 'since the first sample');
    await sleep(300);
    const kinds = async () =>
      (await store.listJobEvents(job.id, 0, 100)).map((e) => `${e.kind}:${e.detail.reason ?? ''}`);
    assert.deepEqual(await kinds(), ['stalled:agent 3.stor.test: connect ECONNREFUSED (since 2m)']);

    await complete(store, job.id, ids.slice(0, 1));
    await until(async () => (await progressOf(t, job.id)).stalled === null, 'unstalled');
    assert.deepEqual((await kinds()).slice(1), ['unstalled:']);

    // Nobody reports anything: the reason says so.
    state.blockers = [];
    await until(async () => (await progressOf(t, job.id)).stalled !== null, 'stalled again');
    assert.match(
      (await progressOf(t, job.id)).stalled?.reason ?? '',
      /^no object has settled for \d+s; no agent or shard reports a problem$/,
    );

    // A paused job is not stalled, however long it waits.
    await store.setJobState(job.id, ['running'], 'paused');
    await sleep(600);
    assert.equal((await progressOf(t, job.id)).stalled, null);
    const events = await store.listJobEvents(job.id, 0, 100);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['stalled', 'unstalled', 'stalled', 'unstalled'],
    );
    assert.equal(events.at(-1)?.detail.state, 'paused');
  });

  test('a dry run, which moves nothing, never stalls', async () => {
    const { store } = fixture;
    const dry = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: null },
      fromShark: EVAC,
      metadataThreads: 2,
      dryRun: true,
    });
    await store.recordDiscovered(dry.id, [mantaObject(randomUUID())]);
    await store.setJobState(dry.id, ['setup'], 'running');
    const { t, state } = tracker({ running: new Set([dry.id]) });
    state.stallAfterMs = 50;
    await t.sample();
    await sleep(100);
    await t.sample();
    assert.equal((await progressOf(t, dry.id)).stalled, null);
    assert.deepEqual(await store.listJobEvents(dry.id, 0, 10), []);
  });

  test('a job no longer running here is forgotten', async () => {
    const { store } = fixture;
    const { job, ids } = await runningJob(store, 10, { discovered: true });
    const { t, running } = tracker({ minRateSpanMs: 0, running: new Set([job.id]) });
    await t.sample();
    await sleep(20);
    await complete(store, job.id, ids.slice(0, 4));
    assert.ok((await progressOf(t, job.id)).objects_per_second > 0);
    running.delete(job.id);
    await t.sample();
    assert.equal((await progressOf(t, job.id)).objects_per_second, 0);
  });
});
