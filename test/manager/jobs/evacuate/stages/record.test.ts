/**
 * The recording stage alone: each batch written to the real store with its checkpoint, skips
 * with their reasons, malformed records as errors, duplicates and re-sent records not passed
 * on, and a resumed run handing placement what an earlier run recorded but never placed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue } from '../../../../../src/async/index.ts';
import type { PlacedObject } from '../../../../../src/manager/jobs/evacuate/context.ts';
import { record } from '../../../../../src/manager/jobs/evacuate/stages/record.ts';
import type { RecordBatch } from '../../../../../src/manager/jobs/evacuate/types.ts';
import type { DiscoveredObject } from '../../../../../src/manager/store/index.ts';
import { useStore } from '../../../../support/store.ts';
import { counter, countsOf, harness, mantaObject, newJob, statuses } from '../helpers.ts';

function batch(parts: Partial<RecordBatch>): RecordBatch {
  return { objects: [], skipped: [], malformed: [], checkpoint: undefined, ...parts };
}

/** Runs the stage over `batches` (input closed after them); returns the ids it passed on. */
async function run(
  h: ReturnType<typeof harness>,
  batches: RecordBatch[],
  outCapacity = 64,
): Promise<string[]> {
  const input = new BoundedQueue<RecordBatch>(8);
  const out = new BoundedQueue<PlacedObject>(outCapacity);
  for (const b of batches) await input.push(b);
  input.close();
  await record(h.ctx, input, out);
  out.close();
  const ids: string[] = [];
  for await (const o of out) ids.push(o.id);
  return ids;
}

describe('record stage', () => {
  const fixture = useStore();

  test('objects are recorded unprocessed and passed on; skips and malformed are not', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    const passed = await run(h, [
      batch({
        objects: [mantaObject('o1'), mantaObject('o2')],
        skipped: [{ object: mantaObject('logs-1'), reason: 'excluded_key_prefix' }],
        malformed: [{ shard: 2, key: '/acct/stor/bad', problem: 'not JSON' }],
        checkpoint: { shard: 1, cursor: 'c1', done: false },
      }),
      batch({
        objects: [mantaObject('o3', { shard: 2 })],
        checkpoint: { shard: 2, cursor: 'c2', done: true },
      }),
    ]);
    assert.deepEqual(passed, ['o1', 'o2', 'o3']);
    assert.deepEqual(
      await statuses(fixture.store, job.id, ['o1', 'o3', 'logs-1', 'malformed:2:/acct/stor/bad']),
      {
        o1: 'unprocessed',
        o3: 'unprocessed',
        'logs-1': 'skipped:excluded_key_prefix',
        'malformed:2:/acct/stor/bad': 'error:bad_manta_object',
      },
    );
    const bad = await fixture.store.getObject(job.id, 'malformed:2:/acct/stor/bad');
    assert.equal(bad?.errorDetail, 'not JSON');
    assert.deepEqual(await fixture.store.loadCheckpoints(job.id), [
      { shard: 1, cursor: 'c1', done: false },
      { shard: 2, cursor: 'c2', done: true },
    ]);
    assert.deepEqual(await countsOf(fixture.store, job.id), {
      'status:unprocessed': 3,
      'status:skipped': 1,
      'status:error': 1,
      'skip:excluded_key_prefix': 1,
      'error:bad_manta_object': 1,
    });
    assert.equal(await counter(h.metrics, 'skip_count', 'reason', 'excluded_key_prefix'), 1);
  });

  test('a duplicate (same objectId elsewhere) and a re-sent record are recorded once, passed on once', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    const original = mantaObject('dup');
    const link: DiscoveredObject = {
      ...mantaObject('dup', { shard: 3 }),
      key: '/acct/stor/dup-link',
    };
    const passed = await run(h, [
      batch({ objects: [original, mantaObject('x1')] }),
      // Discovery resumed from its last checkpoint re-sends x1; the snaplink names dup again.
      batch({ objects: [mantaObject('x1'), link] }),
    ]);
    assert.deepEqual(passed, ['dup', 'x1']);
    assert.deepEqual(await countsOf(fixture.store, job.id), {
      'status:unprocessed': 2,
      'duplicates:duplicates': 1,
    });
    const dups = await fixture.store.listDuplicates(job.id, undefined, 10);
    assert.deepEqual(
      dups.map((d) => [d.id, d.key, d.shard]),
      [['dup', '/acct/stor/dup-link', 3]],
    );
  });

  test('a skip re-sent after a resume is not counted twice', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    const skipped = { object: mantaObject('logs-2'), reason: 'excluded_key_prefix' as const };
    await run(h, [batch({ skipped: [skipped] }), batch({ skipped: [skipped] })]);
    assert.deepEqual(await countsOf(fixture.store, job.id), {
      'status:skipped': 1,
      'skip:excluded_key_prefix': 1,
    });
  });

  test('a resumed run first passes on, page by page, what was recorded and never placed', async () => {
    const job = await newJob(fixture.store);
    const earlier = ['u1', 'u2', 'u3', 'u4', 'u5'].map((id) => mantaObject(id));
    await fixture.store.recordDiscovered(job.id, earlier);
    // u5 was placed before the restart: it is an assignment's now, not placement's.
    await fixture.store.transition(job.id, [
      {
        select: { ids: ['u5'] },
        from: 'unprocessed',
        to: {
          status: 'assigned',
          assignmentId: '00000000-0000-4000-8000-000000000005',
          destShark: '3.stor.test',
        },
      },
    ]);
    const h = harness({ store: fixture.store, job, settings: { storePage: 2 } });
    const passed = await run(h, [batch({ objects: [mantaObject('n1')] })]);
    assert.deepEqual(passed, ['u1', 'u2', 'u3', 'u4', 'n1']);
  });

  test('placement holding back (a full output) holds back recording: the output bounds memory', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    const input = new BoundedQueue<RecordBatch>(1);
    const out = new BoundedQueue<PlacedObject>(2);
    const running = record(h.ctx, input, out);
    await input.push(batch({ objects: ['b1', 'b2', 'b3'].map((id) => mantaObject(id)) }));
    await input.push(batch({ objects: [mantaObject('b4')] }));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(out.size, 2, 'two passed on, the third waits for room');
    assert.equal(
      (await fixture.store.getObject(job.id, 'b4'))?.status,
      undefined,
      'the next batch waits',
    );
    input.close();
    const ids: string[] = [];
    const consumer = (async () => {
      for await (const o of out) ids.push(o.id);
    })();
    await running;
    out.close();
    await consumer;
    assert.deepEqual(ids, ['b1', 'b2', 'b3', 'b4']);
  });

  test('a failed input rejects the stage with its error', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    const input = new BoundedQueue<RecordBatch>(1);
    const running = record(h.ctx, input, new BoundedQueue(4));
    input.fail(new Error('discovery failed'));
    await assert.rejects(running, /discovery failed/);
  });
});
