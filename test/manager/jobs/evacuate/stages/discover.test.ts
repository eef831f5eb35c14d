/**
 * The discovery stage alone: what it makes of its ObjectSource's events (batches cut at
 * checkpoints and at recordBatch, exclusions and malformed records carried along), where it
 * resumes, max_objects, a retry job's re-read of the previous job, and how it ends.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue } from '../../../../../src/async/index.ts';
import type { EvacuateContext } from '../../../../../src/manager/jobs/evacuate/context.ts';
import { DiscoveryObjectSource } from '../../../../../src/manager/jobs/evacuate/discovery-source.ts';
import { discover } from '../../../../../src/manager/jobs/evacuate/stages/discover.ts';
import type {
  ObjectSource,
  RecordBatch,
  SourceEvent,
} from '../../../../../src/manager/jobs/evacuate/types.ts';
import type { DiscoveryCheckpoint } from '../../../../../src/manager/store/index.ts';
import { MorayClient } from '../../../../../src/moray/index.ts';
import { createMantaBuckets, startMorayShard } from '../../../../../src/sandbox/moray/index.ts';
import { useStore } from '../../../../support/store.ts';
import {
  DEST,
  harness,
  idsOf,
  MemoryMetadata,
  mantaObject,
  newJob,
  OTHER,
  silent,
  until,
} from '../helpers.ts';

/** A source replaying `events`; with `hang`, it then waits until its signal aborts. */
function scripted(events: SourceEvent[], hang = false) {
  const resumes: (readonly DiscoveryCheckpoint[])[] = [];
  const signals: AbortSignal[] = [];
  const source: ObjectSource = {
    excludes: (key) => key.includes('/logs/'),
    async *scan({ resume, signal }) {
      resumes.push(resume);
      signals.push(signal);
      for (const e of events) yield e;
      if (!hang) return;
      await new Promise((_, reject) => {
        // A listener added to a signal already aborted would never fire.
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    },
  };
  return { source, resumes, signals };
}

const obj = (id: string): SourceEvent => ({ kind: 'object', object: mantaObject(id) });
const checkpoint = (shard: number, cursor: string): SourceEvent => ({
  kind: 'checkpoint',
  checkpoint: { shard, cursor, done: false },
});

/** Every batch the stage pushed to `out`, which it closes. */
async function pushed(out: BoundedQueue<RecordBatch>): Promise<RecordBatch[]> {
  out.close();
  const batches: RecordBatch[] = [];
  for await (const b of out) batches.push(b);
  return batches;
}

/** Runs the stage to its end over a fresh output; every batch it pushed. */
async function discovered(ctx: EvacuateContext, capacity = 16): Promise<RecordBatch[]> {
  const out = new BoundedQueue<RecordBatch>(capacity);
  await discover(ctx, out);
  return pushed(out);
}

/** Each batch as the ids it carries. */
const carried = (batches: readonly RecordBatch[]) =>
  batches.map((b) => ({
    objects: idsOf(b.objects),
    skipped: b.skipped.map((s) => `${s.object.id}:${s.reason}`),
    malformed: b.malformed.map((m) => m.key),
    ...(b.checkpoint ? { cp: `${b.checkpoint.shard}:${b.checkpoint.cursor}` } : {}),
    ...(b.ended ? { ended: b.ended.objects } : {}),
  }));

describe('discover stage', () => {
  const fixture = useStore();

  test('batches are cut at each checkpoint and at recordBatch, exclusions and malformed carried', async () => {
    const job = await newJob(fixture.store);
    const { source } = scripted([
      obj('a1'),
      obj('a2'),
      { kind: 'excluded', object: mantaObject('logs-x') },
      obj('a3'),
      { kind: 'malformed', shard: 1, key: '/acct/stor/bad', problem: 'not JSON' },
      checkpoint(1, 'c1'),
      obj('a4'),
      checkpoint(2, 'c2'),
      obj('a5'),
    ]);
    const h = harness({ store: fixture.store, job, source, settings: { recordBatch: 3 } });
    assert.deepEqual(carried(await discovered(h.ctx)), [
      { objects: ['a1', 'a2'], skipped: ['logs-x:excluded_key_prefix'], malformed: [] },
      { objects: ['a3'], skipped: [], malformed: ['/acct/stor/bad'], cp: '1:c1' },
      { objects: ['a4'], skipped: [], malformed: [], cp: '2:c2' },
      { objects: ['a5'], skipped: [], malformed: [] },
      // The scan ended on its own: recording marks the job discovered after this batch.
      { objects: [], skipped: [], malformed: [], ended: 5 },
    ]);
  });

  test('a resumed run scans after its checkpoints; max_objects counts what it found before', async () => {
    const job = await newJob(fixture.store);
    // An earlier run recorded two objects and a duplicate of one (three found), shard 1 done.
    const first = [
      mantaObject('m1'),
      mantaObject('m2'),
      { ...mantaObject('m1', { shard: 2 }), key: '/acct/stor/m1-link' },
    ];
    await fixture.store.recordDiscovered(job.id, first, { shard: 1, cursor: 'end', done: true });
    const { source, resumes } = scripted([
      obj('m3'),
      { kind: 'excluded', object: mantaObject('logs-y') },
      obj('m4'),
      obj('m5'),
      obj('m6'),
    ]);
    const h = harness({ store: fixture.store, job, source, settings: { maxObjects: 5 } });
    const batches = await discovered(h.ctx);
    assert.deepEqual(resumes, [[{ shard: 1, cursor: 'end', done: true }]]);
    // 3 found before + m3, m4 = 5; the exclusion does not count.
    assert.deepEqual(carried(batches), [
      { objects: ['m3', 'm4'], skipped: ['logs-y:excluded_key_prefix'], malformed: [] },
      { objects: [], skipped: [], malformed: [], ended: 5 },
    ]);
  });

  test('a cancel ends the scan without failing: what was pushed stays, nothing more goes out', async () => {
    const job = await newJob(fixture.store);
    const { source, signals } = scripted([obj('k1'), checkpoint(1, 'c1'), obj('k2')], true);
    const h = harness({ store: fixture.store, job, source });
    const out = new BoundedQueue<RecordBatch>(16);
    const running = discover(h.ctx, out);
    await until(() => out.size === 1, 'the first batch');
    h.drain();
    await running;
    assert.equal(signals[0]?.aborted, true, 'the scan was told to stop');
    // k2 was never recorded: it is not the job's (a cancelled job does not scan again).
    assert.deepEqual(carried(await pushed(out)), [
      { objects: ['k1'], skipped: [], malformed: [], cp: '1:c1' },
    ]);
  });

  test('a source that ignores the cancel is not read further', async () => {
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job });
    let yielded = 0;
    const source: ObjectSource = {
      excludes: () => false,
      async *scan() {
        for (let i = 0; i < 100; i++) {
          yielded++;
          if (i === 2) h.drain();
          yield obj(`n${i}`);
        }
      },
    };
    h.ctx.deps.source = source;
    const batches = await discovered(h.ctx);
    assert.equal(yielded, 3);
    assert.deepEqual(batches, []);
  });

  test('a failing source, or the job stopping, rejects the stage', async () => {
    const job = await newJob(fixture.store);
    const failing: ObjectSource = {
      excludes: () => false,
      async *scan() {
        yield obj('f1');
        throw new Error('shard 7 unreachable');
      },
    };
    const h = harness({ store: fixture.store, job, source: failing });
    await assert.rejects(discover(h.ctx, new BoundedQueue(16)), /shard 7 unreachable/);
    const { source } = scripted([obj('s1')], true);
    const stopped = harness({ store: fixture.store, job, source });
    const running = discover(stopped.ctx, new BoundedQueue(16));
    await new Promise((r) => setTimeout(r, 10));
    stopped.abort(new Error('the manager is stopping'));
    await assert.rejects(running, /the manager is stopping/);
  });

  test("a retry job re-reads the previous job's unfinished objects live", async () => {
    const prev = await newJob(fixture.store);
    const objects = ['r1', 'r2', 'r3', 'logs/r4', 'r5', 'r6'].map((id) => mantaObject(id));
    await fixture.store.recordDiscovered(prev.id, objects);
    await fixture.store.transition(prev.id, [
      {
        select: { ids: ['r1', 'r2', 'r3', 'logs/r4'] },
        from: 'unprocessed',
        to: { status: 'skipped', reason: 'agent_busy' },
      },
      { select: { ids: ['r5'] }, from: 'unprocessed', to: { status: 'complete' } },
    ]);
    const metadata = new MemoryMetadata(objects);
    const [r1, r2, r3] = objects;
    // Since: r1 rewritten by a user (new etag), r2 deleted, r3 moved off the shark.
    metadata.records.set(r1!.key, { etag: 'user', value: { ...r1!.object, headers: { a: 'b' } } });
    metadata.records.delete(r2!.key);
    metadata.records.set(r3!.key, {
      etag: 'moved',
      value: { ...r3!.object, sharks: [OTHER, DEST] },
    });
    const retry = await newJob(fixture.store, prev.id);
    const { source } = scripted([]);
    const h = harness({ store: fixture.store, job: retry, source, metadata });
    const batches = await discovered(h.ctx);
    const objectsOut = batches.flatMap((b) => b.objects);
    // r6 was left unprocessed by the previous job: retried too; r5 is done.
    assert.deepEqual(
      objectsOut.map((o) => [o.id, o.etag]),
      [
        ['r1', 'user'],
        ['r6', 'etag-r6'],
      ],
    );
    assert.deepEqual(objectsOut[0]?.object.headers, { a: 'b' }, 'the live record, not the old one');
    assert.deepEqual(
      batches.flatMap((b) => b.skipped.map((s) => `${s.object.id}:${s.reason}`)).sort(),
      ['logs/r4:excluded_key_prefix', 'r2:metadata_object_not_found', 'r3:object_not_on_shark'],
    );
  });

  test('over a real Moray shard: every object on the shark once, and a resume finds no more', async () => {
    await createMantaBuckets(fixture.db);
    const shard = await startMorayShard({ db: fixture.db, log: silent });
    const client = new MorayClient({ host: shard.host, port: shard.port, log: silent });
    try {
      const on = ['d1', 'd2', 'd3'].map((id) => mantaObject(id));
      const off = mantaObject('d4', { sharks: [OTHER, DEST] });
      const etags = new Map<string, string>();
      for (const o of [...on, off])
        etags.set(o.id, (await client.putObject('manta', o.key, o.object)).etag);
      const source = new DiscoveryObjectSource(() => [{ shard: 1, mode: 'moray', client }], {
        chunkSize: 2,
      });
      const job = await newJob(fixture.store);
      const h = harness({ store: fixture.store, job, source });
      const batches = await discovered(h.ctx, 64);
      const found = batches.flatMap((b) => b.objects);
      assert.deepEqual(found.map((o) => o.id).sort(), ['d1', 'd2', 'd3']);
      for (const o of found) assert.equal(o.etag, etags.get(o.id), 'the etag it was read with');
      assert.deepEqual(found[0]?.object.sharks, on[0]?.object.sharks);
      // Record what was found, as the recording stage does, then run the stage again.
      for (const b of batches)
        await fixture.store.recordDiscovered(job.id, b.objects, b.checkpoint);
      const again = await discovered(harness({ store: fixture.store, job, source }).ctx, 64);
      assert.deepEqual(
        again.flatMap((b) => idsOf(b.objects)),
        [],
        'resumed after its checkpoints',
      );
    } finally {
      await client.close();
      await shard.close();
    }
  });
});
