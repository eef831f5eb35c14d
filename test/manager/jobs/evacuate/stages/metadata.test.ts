/**
 * The metadata stage alone, against a real Moray shard (the sandbox's, over the test database:
 * real etags, conditional puts, atomic batches) through the manager's MorayMetadataWriter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BoundedQueue } from '../../../../../src/async/index.ts';
import { MorayMetadataWriter } from '../../../../../src/manager/jobs/evacuate/adapters.ts';
import { updateMetadata } from '../../../../../src/manager/jobs/evacuate/stages/metadata.ts';
import type {
  MetadataUpdate,
  MetadataWriter,
  RecordRef,
} from '../../../../../src/manager/jobs/evacuate/types.ts';
import type { AssignmentRecord, DiscoveredObject } from '../../../../../src/manager/store/index.ts';
import { MorayClient } from '../../../../../src/moray/index.ts';
import {
  createMantaBuckets,
  type MorayShard,
  startMorayShard,
} from '../../../../../src/sandbox/moray/index.ts';
import { useStore } from '../../../../support/store.ts';
import {
  counter,
  DEST,
  DEST2,
  EVAC,
  type HarnessOptions,
  harness,
  idsOf,
  mantaObject,
  newJob,
  OTHER,
  silent,
  statuses,
  storedAssignment,
} from '../helpers.ts';

/** The real writer, with transient failures, a hang, and a count of calls on top. */
class Shaky implements MetadataWriter {
  readonly failures = new Map<string, number>();
  hang = false;
  puts = 0;
  batches = 0;
  constructor(private readonly inner: MetadataWriter) {}
  async putObject(u: MetadataUpdate, signal: AbortSignal): Promise<void> {
    this.puts++;
    if (this.hang) {
      await new Promise((_, reject) => {
        // A listener added to a signal already aborted would never fire.
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    const left = this.failures.get(u.key) ?? 0;
    if (left > 0) {
      this.failures.set(u.key, left - 1);
      throw new Error('ECONNRESET');
    }
    return this.inner.putObject(u, signal);
  }
  putBatch(shard: number, updates: readonly MetadataUpdate[], signal: AbortSignal) {
    this.batches++;
    return this.inner.putBatch(shard, updates, signal);
  }
  getObject(ref: RecordRef, signal: AbortSignal) {
    return this.inner.getObject(ref, signal);
  }
}

describe('metadata stage against a Moray shard', () => {
  let shard: MorayShard;
  let moray: MorayClient;
  // Registered first, so the shard is closed before useStore() drops the database it serves.
  after(async () => {
    await moray.close();
    await shard.close();
  });
  const fixture = useStore();
  before(async () => {
    await createMantaBuckets(fixture.db);
    shard = await startMorayShard({ db: fixture.db, log: silent });
    moray = new MorayClient({ host: shard.host, port: shard.port, log: silent });
  });

  /** Objects written to Moray, recorded with the etag Moray gave them. */
  async function inMoray(ids: string[]): Promise<DiscoveredObject[]> {
    const out: DiscoveredObject[] = [];
    for (const id of ids) {
      const o = mantaObject(id);
      const { etag } = await moray.putObject('manta', o.key, o.object);
      out.push({ ...o, etag });
    }
    return out;
  }

  /** A job whose agent finished an assignment of `objects`; the stage run over it. */
  async function runOver(objects: DiscoveredObject[], o: Partial<HarnessOptions> = {}) {
    const writer = new Shaky(new MorayMetadataWriter(() => moray));
    const h = harness({
      store: fixture.store,
      job: await newJob(fixture.store),
      metadata: writer,
      ...o,
    });
    const a = await storedAssignment(h, objects);
    await fixture.store.setAssignmentState(a.record.id, ['init'], 'assigned');
    await fixture.store.transition(h.ctx.jobId, [
      {
        select: { assignmentId: a.record.id },
        from: 'assigned',
        to: { status: 'post_processing' },
      },
    ]);
    await fixture.store.setAssignmentState(a.record.id, ['assigned'], 'agent_complete');
    const record: AssignmentRecord = { ...a.record, state: 'agent_complete' };
    const failures: unknown[] = [];
    const run = async () => {
      const input = new BoundedQueue<AssignmentRecord>(4);
      h.ctx.inFlight.metadataPending = 1;
      await input.push(record);
      input.close();
      await updateMetadata(h.ctx, input, (err) => failures.push(err));
    };
    return { h, a, writer, failures, run };
  }

  const sharksOf = async (key: string) =>
    (await moray.getObject('manta', key)).value.sharks as unknown[];

  test('each record names the new copy in place of the evacuated one; the assignment is done', async () => {
    const objects = await inMoray(['m1', 'm2', 'm3']);
    const { h, a, failures, run } = await runOver(objects);
    await run();
    assert.deepEqual(failures, []);
    for (const o of objects) assert.deepEqual(await sharksOf(o.key), [DEST, OTHER]);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['m1', 'm2', 'm3']), {
      m1: 'complete',
      m2: 'complete',
      m3: 'complete',
    });
    assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'post_processed');
    assert.equal(h.ctx.stats.bytesMoved, 30);
    assert.equal(h.ctx.inFlight.metadataPending, 0);
    assert.equal(await counter(h.metrics, 'object_count', 'type', 'evacuate'), 3);
  });

  test('an etag conflict is judged by the live record: never a user’s write overwritten', async () => {
    const objects = await inMoray(['user', 'merge', 'ours', 'moved', 'gone', 'collide']);
    const [user, merge, ours, moved, gone, collide] = objects as [
      DiscoveredObject,
      ...DiscoveredObject[],
    ];
    const put = (o: DiscoveredObject | undefined, value: object) =>
      moray.putObject('manta', o!.key, { ...o!.object, ...value });
    // A user replaced the object (a new objectId); another job moved its other copy; our own
    // write landed before a restart; another job moved this copy; a user deleted it; another
    // writer put a copy on our destination.
    await put(user, { objectId: 'user-new', contentMD5: 'bmV3bmV3bmV3bmV3bmV3bg==' });
    await put(merge, { sharks: [EVAC, DEST2] });
    await put(ours, { sharks: [DEST, OTHER] });
    await put(moved, { sharks: [DEST2, OTHER] });
    await moray.delObject('manta', gone!.key);
    await put(collide, { sharks: [EVAC, DEST] });
    const { h, failures, run } = await runOver(objects);
    await run();
    assert.deepEqual(failures, []);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, idsOf(objects)), {
      user: 'skipped:metadata_etag_mismatch',
      merge: 'complete',
      ours: 'complete',
      moved: 'skipped:object_not_on_shark',
      gone: 'skipped:metadata_object_not_found',
      collide: 'unprocessed',
    });
    const userNow = await moray.getObject('manta', user.key);
    assert.deepEqual([userNow.value.objectId, userNow.value.sharks], ['user-new', [EVAC, OTHER]]);
    assert.deepEqual(await sharksOf(merge!.key), [DEST, DEST2], 'the other job’s move kept');
    assert.deepEqual(await sharksOf(moved!.key), [DEST2, OTHER]);
    // The collision goes back to placement from its live record and etag.
    const live = await moray.getObject('manta', collide!.key);
    const stored = await fixture.store.getObject(h.ctx.jobId, 'collide');
    assert.equal(stored?.etag, live._etag);
    assert.deepEqual(
      h.ctx.placeAgain.take().map((o) => [o.id, o.object?.sharks]),
      [['collide', [EVAC, DEST]]],
    );
  });

  test('transient failures are retried; past metadataAttempts the object errs, not the job', async () => {
    const objects = await inMoray(['t1', 't2']);
    const { h, writer, failures, run } = await runOver(objects, {
      settings: { metadataAttempts: 3 },
    });
    writer.failures.set(objects[0]!.key, 2);
    writer.failures.set(objects[1]!.key, 5);
    await run();
    assert.deepEqual(failures, []);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['t1', 't2']), {
      t1: 'complete',
      t2: 'error:moray_update_failed',
    });
    assert.deepEqual(await sharksOf(objects[1]!.key), [EVAC, OTHER], 'nothing written');
  });

  test('a destination another job now evacuates is never named: back to placement', async () => {
    const objects = await inMoray(['v1']);
    const { h, writer, run } = await runOver(objects, {
      evacuating: () => [DEST.manta_storage_id],
    });
    await run();
    assert.equal(writer.puts, 0);
    assert.deepEqual(await sharksOf(objects[0]!.key), [EVAC, OTHER]);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['v1']), { v1: 'unprocessed' });
    assert.deepEqual(
      h.ctx.placeAgain.take().map((o) => o.id),
      ['v1'],
    );
  });

  test('batched updates: one atomic batch per shard; a user’s write makes it fall back to single puts', async () => {
    const clean = await inMoray(['b1', 'b2', 'b3']);
    const batched = await runOver(clean, { settings: { batchedUpdates: true } });
    await batched.run();
    assert.deepEqual([batched.writer.batches, batched.writer.puts], [1, 0]);
    for (const o of clean) assert.deepEqual(await sharksOf(o.key), [DEST, OTHER]);
    const mixed = await inMoray(['b4', 'b5']);
    await moray.putObject('manta', mixed[1]!.key, { ...mixed[1]!.object, objectId: 'b5-new' });
    const fallback = await runOver(mixed, { settings: { batchedUpdates: true } });
    await fallback.run();
    assert.deepEqual([fallback.writer.batches, fallback.writer.puts], [1, 2]);
    assert.deepEqual(await statuses(fixture.store, fallback.h.ctx.jobId, ['b4', 'b5']), {
      b4: 'complete',
      b5: 'skipped:metadata_etag_mismatch',
    });
  });

  test('the job stopping mid-update fails the stage’s work, leaving the objects to a resume', async () => {
    const objects = await inMoray(['h1']);
    const { h, a, writer, failures, run } = await runOver(objects);
    writer.hang = true;
    const running = run();
    setTimeout(() => h.abort(new Error('the manager is stopping')), 20);
    await running;
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]), /metadata update failed: the manager is stopping/);
    assert.equal(h.ctx.inFlight.metadataPending, 0);
    assert.deepEqual(await statuses(fixture.store, h.ctx.jobId, ['h1']), { h1: 'post_processing' });
    assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'agent_complete');
  });
});
