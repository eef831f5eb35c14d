/**
 * The `job_progress_samples` table: samples read back oldest first, one at the same instant
 * replaced, deleted with their job, and downsampled in the database to at most `points`,
 * evenly spread with the first and the last kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStore } from '../../support/store.ts';
import { newJob } from '../jobs/evacuate/helpers.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

describe('store: job progress samples', () => {
  const fixture = useStore();

  /** A job with samples at T0 + i s, objects_done = i, bytes_done = 100 i, for i < n. */
  async function jobWithSamples(n: number): Promise<string> {
    const { store } = fixture;
    const job = await newJob(store);
    for (let i = 0; i < n; i++) {
      await store.recordProgressSample(job.id, {
        at: new Date(T0 + i * 1000),
        objectsDone: i,
        bytesDone: 100 * i,
      });
    }
    return job.id;
  }

  test('samples come back oldest first with their counts, as recorded', async () => {
    const { store } = fixture;
    const job = await newJob(store);
    // Recorded out of order: the read orders them.
    await store.recordProgressSample(job.id, {
      at: new Date(T0 + 2000),
      objectsDone: 7,
      bytesDone: 9e12,
    });
    await store.recordProgressSample(job.id, { at: new Date(T0), objectsDone: 0, bytesDone: 0 });
    assert.deepEqual(await store.progressSamples(job.id, 10), [
      { at: new Date(T0), objectsDone: 0, bytesDone: 0 },
      { at: new Date(T0 + 2000), objectsDone: 7, bytesDone: 9e12 },
    ]);
  });

  test('a sample at an instant already sampled replaces it', async () => {
    const { store } = fixture;
    const job = await newJob(store);
    await store.recordProgressSample(job.id, { at: new Date(T0), objectsDone: 1, bytesDone: 10 });
    await store.recordProgressSample(job.id, { at: new Date(T0), objectsDone: 2, bytesDone: 20 });
    assert.deepEqual(await store.progressSamples(job.id, 10), [
      { at: new Date(T0), objectsDone: 2, bytesDone: 20 },
    ]);
  });

  test("another job's samples are not read, and a deleted job's are deleted with it", async () => {
    const { store, db } = fixture;
    const a = await jobWithSamples(3);
    const b = await jobWithSamples(2);
    assert.equal((await store.progressSamples(a, 10)).length, 3);
    await db.query('DELETE FROM jobs WHERE id = $1', [b]);
    const left = await db.query(
      'SELECT count(*) AS n FROM job_progress_samples WHERE job_id = $1',
      [b],
    );
    assert.equal(Number(left.rows[0]?.n), 0);
    assert.deepEqual(await store.progressSamples(b, 10), []);
  });

  test('a job with no more samples than points gets them all', async () => {
    const job = await jobWithSamples(5);
    const all = await fixture.store.progressSamples(job, 5);
    assert.deepEqual(
      all.map((s) => s.objectsDone),
      [0, 1, 2, 3, 4],
    );
  });

  test('downsampling keeps points samples, evenly spaced, first and last included', async () => {
    const job = await jobWithSamples(101);
    const picked = await fixture.store.progressSamples(job, 11);
    assert.deepEqual(
      picked.map((s) => s.objectsDone),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    );
    // Uneven ratios: still exactly `points`, strictly increasing, both ends kept.
    for (const points of [2, 3, 7, 100]) {
      const s = (await fixture.store.progressSamples(job, points)).map((x) => x.objectsDone);
      assert.equal(s.length, points, `points=${points}`);
      assert.equal(s[0], 0);
      assert.equal(s.at(-1), 100);
      for (let i = 1; i < s.length; i++) assert.ok(s[i]! > s[i - 1]!, `points=${points}: ${s}`);
    }
  });

  test('points below 2 is refused, not guessed', async () => {
    const job = await jobWithSamples(3);
    await assert.rejects(fixture.store.progressSamples(job, 1), RangeError);
  });
});
