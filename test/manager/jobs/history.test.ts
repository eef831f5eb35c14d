/**
 * A job's history (issue 17): the progress tracker keeps a sample in the store when it first
 * sees a running job, then one per `historyIntervalMs` (never more often), and a final one
 * when the job stops running; a new tracker (a restarted manager) adds to the same history.
 * `jobHistory` reads it back with the rates between consecutive samples.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jobHistory } from '../../../src/manager/jobs/history.ts';
import { ProgressTracker } from '../../../src/manager/jobs/progress.ts';
import type { ManagerStore } from '../../../src/manager/store/index.ts';
import { useStore } from '../../support/store.ts';
import { idsOf, mantaObject, newJob, silent, until } from './evacuate/helpers.ts';

/** A running job with `n` unprocessed objects of 100 bytes. */
async function runningJob(store: ManagerStore, n: number): Promise<{ id: string; ids: string[] }> {
  const job = await newJob(store);
  const objects = Array.from({ length: n }, () => mantaObject(randomUUID(), { size: 100 }));
  await store.recordDiscovered(job.id, objects);
  await store.setJobState(job.id, ['setup'], 'running');
  return { id: job.id, ids: idsOf(objects) };
}

function complete(store: ManagerStore, jobId: string, ids: readonly string[]) {
  return store.transition(jobId, [
    { select: { ids }, from: 'unprocessed', to: { status: 'post_processing' } },
    { select: { ids }, from: 'post_processing', to: { status: 'complete' } },
  ]);
}

describe('job history', () => {
  const fixture = useStore();
  const trackers: ProgressTracker[] = [];
  afterEach(async () => {
    for (const t of trackers.splice(0)) await t.stop();
  });

  function tracker(running: Set<string>, historyIntervalMs: number, sampleIntervalMs = 1000) {
    const t = new ProgressTracker({
      store: fixture.store,
      running: () => running,
      blockers: () => [],
      sharkUsedBytes: () => undefined,
      stallAfterMs: () => 60_000,
      log: silent,
      sampleIntervalMs,
      historyIntervalMs,
    });
    trackers.push(t);
    return t;
  }

  const rows = (id: string) => fixture.store.progressSamples(id, 1000);
  const counts = async (id: string) =>
    (await rows(id)).map((s) => [s.objectsDone, s.bytesDone] as const);

  test('a sample at first sight, none again within the interval, one after it', async () => {
    const { store } = fixture;
    const { id, ids } = await runningJob(store, 10);
    const t = tracker(new Set([id]), 150);
    await t.sample();
    assert.deepEqual(await counts(id), [[0, 0]]);
    await complete(store, id, ids.slice(0, 2));
    await t.sample();
    assert.deepEqual(await counts(id), [[0, 0]], 'within the interval: nothing written');
    await sleep(170);
    await t.sample();
    assert.deepEqual(await counts(id), [
      [0, 0],
      [2, 200],
    ]);
  });

  test('a final sample once the job stops running, from its counters then', async () => {
    const { store } = fixture;
    const { id, ids } = await runningJob(store, 10);
    const running = new Set([id]);
    // An interval no test reaches: only the first sight and the end are written.
    const t = tracker(running, 3_600_000);
    await t.sample();
    await complete(store, id, ids.slice(0, 7));
    await store.setJobState(id, ['running'], 'complete');
    running.delete(id);
    await t.sample();
    assert.deepEqual(await counts(id), [
      [0, 0],
      [7, 700],
    ]);
    await t.sample();
    assert.equal((await rows(id)).length, 2, 'the end is written once');
  });

  test("the tracker's timer writes at most one sample per interval while the job runs", async () => {
    const { store } = fixture;
    const { id, ids } = await runningJob(store, 50);
    const t = tracker(new Set([id]), 100, 10);
    t.start();
    let next = 0;
    await until(async () => {
      // Progress between samples, as a running job makes.
      const batch = ids.slice(next, next + 1);
      next += batch.length;
      if (batch.length > 0) await complete(store, id, batch);
      await sleep(10);
      return (await rows(id)).length >= 4;
    }, 'four samples');
    await t.stop();
    const samples = await rows(id);
    for (let i = 1; i < samples.length; i++) {
      const gap = samples[i]!.at.getTime() - samples[i - 1]!.at.getTime();
      assert.ok(gap >= 100, `samples ${i - 1} and ${i} are ${gap} ms apart`);
    }
    const done = samples.map((s) => s.objectsDone);
    assert.deepEqual(
      done,
      [...done].sort((a, b) => a - b),
    );
    assert.ok(done.at(-1)! > 0, 'the later samples saw the progress');
  });

  test('a new tracker (a restarted manager) adds to the history the old one wrote', async () => {
    const { store } = fixture;
    const { id, ids } = await runningJob(store, 10);
    const before = tracker(new Set([id]), 3_600_000);
    await before.sample();
    await before.stop();
    await complete(store, id, ids.slice(0, 4));
    await sleep(5);
    const after = tracker(new Set([id]), 3_600_000);
    await after.sample();
    assert.deepEqual(
      (await jobHistory(store, id, 300)).samples.map((s) => s.objects_done),
      [0, 4],
    );
  });

  test('rates are between consecutive samples, the first 0, a count going down 0', async () => {
    const { store } = fixture;
    const job = await newJob(store);
    const t0 = Date.parse('2025-02-01T00:00:00.000Z');
    const sample = (s: number, objectsDone: number, bytesDone: number) =>
      store.recordProgressSample(job.id, { at: new Date(t0 + s * 1000), objectsDone, bytesDone });
    await sample(0, 0, 0);
    await sample(10, 50, 5000);
    await sample(12, 60, 5000);
    // A convergence round reopened objects: fewer settled than before.
    await sample(20, 40, 6000);
    assert.deepEqual((await jobHistory(store, job.id, 300)).samples, [
      {
        at: '2025-02-01T00:00:00.000Z',
        objects_done: 0,
        bytes_done: 0,
        objects_per_second: 0,
        bytes_per_second: 0,
      },
      {
        at: '2025-02-01T00:00:10.000Z',
        objects_done: 50,
        bytes_done: 5000,
        objects_per_second: 5,
        bytes_per_second: 500,
      },
      {
        at: '2025-02-01T00:00:12.000Z',
        objects_done: 60,
        bytes_done: 5000,
        objects_per_second: 5,
        bytes_per_second: 0,
      },
      {
        at: '2025-02-01T00:00:20.000Z',
        objects_done: 40,
        bytes_done: 6000,
        objects_per_second: 0,
        bytes_per_second: 125,
      },
    ]);
    // Downsampled to the ends: the rate is over the whole span.
    assert.deepEqual(
      (await jobHistory(store, job.id, 2)).samples.map((s) => [
        s.objects_per_second,
        s.bytes_per_second,
      ]),
      [
        [0, 0],
        [2, 300],
      ],
    );
  });
});
