import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AssignmentPayload } from '../../src/api/agent.ts';
import type { StorageNode, Task } from '../../src/api/common.ts';
import { createLogger } from '../../src/log/index.ts';
import { evacuateExecutor } from '../../src/manager/jobs/evacuate/job.ts';
import { RecordUpdater } from '../../src/manager/jobs/evacuate/record-update.ts';
import {
  type AgentClient,
  type CheckOutcome,
  DEFAULT_SETTINGS,
  type DestinationChooser,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  type MetadataUpdate,
  type MetadataWriter,
  type ObjectSource,
  type Placement,
  type PlacementAvoid,
  type PostOutcome,
  type RecordRef,
  type SourceEvent,
} from '../../src/manager/jobs/evacuate/types.ts';
import { JobRunner } from '../../src/manager/jobs/runner.ts';
import { ManagerMetrics } from '../../src/manager/metrics.ts';
import {
  type DiscoveredObject,
  type JobRecord,
  ManagerStore,
} from '../../src/manager/store/index.ts';
import { isMantaObjectValue, mantaObjectProblem } from '../../src/manta/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordingLogger } from '../support/log.ts';

const log = createLogger({ name: 'evacuate-test', level: 'silent' });
const EVAC: StorageNode = { manta_storage_id: '1.stor.test', datacenter: 'dc1' };
const OTHER: StorageNode = { manta_storage_id: '2.stor.test', datacenter: 'dc2' };
const DEST: StorageNode = { manta_storage_id: '3.stor.test', datacenter: 'dc1' };

function record(
  id: string,
  shard: number,
  sharks: StorageNode[] = [EVAC, OTHER],
): DiscoveredObject {
  const key = `/acct/stor/${id}`;
  return {
    id,
    key,
    shard,
    etag: `etag-${id}`,
    object: {
      key,
      owner: 'acct',
      type: 'object',
      objectId: id,
      contentLength: 10,
      contentMD5: 'bWQ1',
      sharks,
    },
  };
}

/** Moray stand-in: conditional puts on stored records. */
class FakeMetadata implements MetadataWriter {
  /** Raw values, as a shard holds them: a user may write one that is no object record. */
  readonly records = new Map<string, { etag: string; value: Record<string, unknown> }>();
  /** A stand-in holding these objects' records under their etags. */
  static holding(objects: readonly DiscoveredObject[]): FakeMetadata {
    const metadata = new FakeMetadata();
    for (const o of objects) metadata.records.set(o.key, { etag: o.etag, value: o.object });
    return metadata;
  }
  transientFailures = new Map<string, number>();
  puts = 0;
  async putObject(u: MetadataUpdate): Promise<void> {
    this.puts++;
    const left = this.transientFailures.get(u.key) ?? 0;
    if (left > 0) {
      this.transientFailures.set(u.key, left - 1);
      throw new Error('ECONNRESET');
    }
    const current = this.records.get(u.key);
    if (!current) throw new MetadataObjectNotFoundError(u.key);
    if (current.etag !== u.etag) throw new MetadataEtagMismatchError(u.key);
    this.records.set(u.key, { etag: `${u.etag}+`, value: u.value });
  }
  batches = 0;
  batchesApplied = 0;
  /** Atomic, as Moray's batch: one stale etag, missing record or transient error fails all. */
  async putBatch(_shard: number, updates: readonly MetadataUpdate[]): Promise<MetadataUpdate[]> {
    this.batches++;
    for (const u of updates) {
      if ((this.transientFailures.get(u.key) ?? 0) > 0) throw new Error('ECONNRESET');
      const current = this.records.get(u.key);
      if (!current) throw new MetadataObjectNotFoundError(u.key);
      if (current.etag !== u.etag) throw new MetadataEtagMismatchError(u.key);
    }
    for (const u of updates) this.records.set(u.key, { etag: `${u.etag}+`, value: u.value });
    this.batchesApplied++;
    return [];
  }
  /** Validated, as MorayMetadataWriter's. */
  async getObject({ key }: RecordRef) {
    const found = this.records.get(key);
    if (!found) return undefined;
    const { etag, value } = found;
    return isMantaObjectValue(value)
      ? { value, etag }
      : { problem: mantaObjectProblem(value), etag };
  }
}

/** Agents stand-in: accepts, reports Running until `complete` is set, then Complete. */
class FakeAgents implements AgentClient {
  readonly assignments = new Map<string, AssignmentPayload>();
  failTasks = new Map<string, Task['status']>();
  complete = true;
  busyOnce = true;
  posts = 0;
  async post(_dest: StorageNode, payload: AssignmentPayload): Promise<PostOutcome> {
    this.posts++;
    if (this.busyOnce) {
      this.busyOnce = false;
      return { kind: 'busy' };
    }
    if (this.assignments.has(payload.id))
      return { kind: 'rejected', status: 409, message: 'exists' };
    this.assignments.set(payload.id, payload);
    return { kind: 'accepted' };
  }
  async get(_dest: StorageNode, id: string): Promise<CheckOutcome> {
    const a = this.assignments.get(id);
    if (!a) return { kind: 'missing', status: 404 };
    if (!this.complete) return { kind: 'state', state: 'Running' };
    const failed = a.tasks
      .filter((t) => this.failTasks.has(t.object_id))
      .map((t) => ({ ...t, status: this.failTasks.get(t.object_id)! }));
    return { kind: 'state', state: { Complete: failed.length === 0 ? null : failed } };
  }
}

function source(objects: DiscoveredObject[]): ObjectSource & { scans: number } {
  const src = {
    scans: 0,
    excludes: (key: string) => key.includes('/stor/logs/'),
    async *scan(req: {
      resume: readonly { shard: number; done: boolean }[];
    }): AsyncIterable<SourceEvent> {
      src.scans++;
      const shards = [...new Set(objects.map((o) => o.shard))].sort();
      for (const shard of shards) {
        if (req.resume.some((c) => c.shard === shard && c.done)) continue;
        for (const o of objects.filter((x) => x.shard === shard)) {
          if (o.key.includes('/stor/logs/')) yield { kind: 'excluded', object: o };
          else yield { kind: 'object', object: o };
        }
        yield { kind: 'checkpoint', checkpoint: { shard, cursor: 'end', done: true } };
      }
    },
  };
  return src;
}

/** Places every object on DEST and keeps account of the bytes it holds, as reservations do. */
class TrackingChooser implements DestinationChooser {
  readonly held = new Map<string, number>();

  choose(
    o: { id: string; sharks: readonly StorageNode[]; sizeBytes: number },
    avoid: PlacementAvoid,
  ): Placement {
    if (o.sharks.some((s) => s.manta_storage_id === DEST.manta_storage_id)) {
      return { outcome: 'skip', reason: 'object_already_on_dest_shark' };
    }
    if (avoid.never.has(DEST.manta_storage_id)) {
      return { outcome: 'skip', reason: 'object_already_in_datacenter' };
    }
    if (avoid.later.has(DEST.manta_storage_id)) return { outcome: 'defer' };
    this.held.set(o.id, o.sizeBytes);
    return { outcome: 'placed', shark: DEST };
  }

  restore(dest: StorageNode, objects: readonly { id: string; sizeBytes: number }[]): void {
    assert.equal(dest.manta_storage_id, DEST.manta_storage_id);
    for (const o of objects) this.held.set(o.id, o.sizeBytes);
  }

  release(ids: readonly string[]): void {
    for (const id of ids) this.held.delete(id);
  }

  /** Landed copies: their bytes stay counted (until storinfo shows them). */
  readonly committed = new Set<string>();
  commit(ids: readonly string[]): void {
    for (const id of ids) {
      assert.ok(this.held.delete(id), `${id} committed without a reservation`);
      this.committed.add(id);
    }
  }

  releaseAll(): void {
    this.held.clear();
  }
}

const chooser = new TrackingChooser();

const settings = {
  ...DEFAULT_SETTINGS,
  maxTasksPerAssignment: 3,
  busyDelayMs: () => 1,
  checkIntervalMs: 5,
  metadataBackoffMs: () => 1,
  queueCapacity: 8,
};

describe('evacuate pipeline', () => {
  let tdb: TestDatabase;
  let store: ManagerStore;

  before(async () => {
    tdb = await createTestDatabase();
    store = await ManagerStore.open(tdb.db);
  });
  after(async () => {
    await tdb.drop();
  });

  async function newJob(max: number | null = null): Promise<JobRecord> {
    return store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: max },
      fromShark: EVAC,
      metadataThreads: 2,
    });
  }

  function runner(
    src: ObjectSource,
    agents: AgentClient,
    metadata: MetadataWriter,
    jobChooser: DestinationChooser = chooser,
    overrides: Partial<typeof settings> = {},
  ): JobRunner {
    const executor = evacuateExecutor({
      source: src,
      agents,
      metadata,
      metrics: new ManagerMetrics(),
      chooser: () => jobChooser,
      settings: { ...settings, ...overrides },
    });
    return new JobRunner({ store, executor, log, cancelWaitMs: 50 });
  }

  for (const batchedUpdates of [false, true]) {
    test(`every object reaches exactly one terminal state with the right reason${batchedUpdates ? ' (batched updates)' : ''}`, async () => {
      const objects = [
        ...Array.from({ length: 7 }, (_, i) => record(`ok${i}`, 1)),
        record('single', 1, [EVAC]), // only copy on the evacuated shark
        record('ondest', 2, [EVAC, DEST]),
        record('md5', 2),
        record('changed', 2),
        record('gone', 2),
        record('flaky', 2),
        record('rewritten', 2), // our own write landed before a restart
        { ...record('logs', 2), key: '/acct/stor/logs/x' },
        record('ok0', 3), // a duplicate (same id on another shard)
      ];
      const metadata = FakeMetadata.holding(objects);
      metadata.records.set('/acct/stor/changed', { etag: 'user-wrote', value: {} });
      metadata.records.delete('/acct/stor/gone');
      const rewritten = record('rewritten', 2).object;
      metadata.records.set('/acct/stor/rewritten', {
        etag: 'ours',
        value: { ...rewritten, sharks: [DEST, OTHER] },
      });
      metadata.transientFailures.set('/acct/stor/flaky', 2);
      const agents = new FakeAgents();
      agents.failTasks.set('md5', { Failed: 'MD5Mismatch' });
      const run = runner(source(objects), agents, metadata, chooser, { batchedUpdates });
      const job = await newJob();
      run.submit(job);
      await run.whenDone(job.id);
      const done = await store.getJob(job.id);
      assert.equal(done?.state, 'complete', done?.error);
      // Batched: each assignment's batch per shard was tried; those holding a user's write,
      // a deleted record or a flaky one failed as a whole and fell back to single puts.
      if (batchedUpdates) {
        assert.ok(metadata.batchesApplied > 0, 'the clean assignments were written by batches');
        assert.ok(metadata.batches > metadata.batchesApplied, 'the others fell back');
      } else assert.equal(metadata.batches, 0);

      const status = async (id: string) => (await store.getObject(job.id, id))!;
      for (let i = 0; i < 7; i++) assert.equal((await status(`ok${i}`)).status, 'complete');
      assert.equal((await status('flaky')).status, 'complete');
      assert.equal((await status('rewritten')).status, 'complete');
      assert.deepEqual(
        [(await status('single')).status, (await status('single')).skippedReason],
        ['skipped', 'source_is_evac_shark'],
      );
      assert.equal((await status('ondest')).skippedReason, 'object_already_on_dest_shark');
      assert.equal((await status('md5')).skippedReason, 'md5_mismatch');
      assert.equal((await status('changed')).skippedReason, 'metadata_etag_mismatch');
      assert.equal((await status('gone')).skippedReason, 'metadata_object_not_found');
      assert.equal((await status('logs')).skippedReason, 'excluded_key_prefix');
      // The user's write was never overwritten (invariant 3).
      assert.deepEqual(metadata.records.get('/acct/stor/changed'), {
        etag: 'user-wrote',
        value: {},
      });
      // The copy on the evacuated shark was replaced in place by the destination.
      assert.deepEqual(metadata.records.get('/acct/stor/ok1')?.value.sharks, [DEST, OTHER]);

      const counts = Object.fromEntries(
        (await store.counts(job.id)).map((c) => [`${c.bucket}:${c.name}`, c.count]),
      );
      assert.equal(counts['status:complete'], 9);
      assert.equal(counts['status:skipped'], 6);
      assert.equal(counts['status:unprocessed'], 0);
      assert.equal(counts['status:assigned'], 0);
      assert.equal(counts['status:post_processing'], 0);
      assert.equal(counts['duplicates:duplicates'], 1);
      assert.equal(
        (await store.assignmentsInStates(job.id, ['init', 'assigned', 'agent_complete'])).length,
        0,
      );
    });
  }

  test('a retry job takes the skipped objects, with their live record and etag', async () => {
    const objects = [record('t1', 1), record('t2', 1), record('t3', 1)];
    const metadata = FakeMetadata.holding(objects);
    const agents = new FakeAgents();
    agents.failTasks.set('t2', { Failed: { HTTPStatusCode: 500 } });
    const run = runner(source(objects), agents, metadata);
    const first = await newJob();
    run.submit(first);
    await run.whenDone(first.id);
    assert.equal((await store.getObject(first.id, 't2'))?.skippedReason, '{http_status_code:500}');
    // A user rewrote t2's headers meanwhile: a new etag, still on the evacuated shark.
    const t2 = objects[1]!;
    metadata.records.set(t2.key, {
      etag: 'user-etag',
      value: { ...t2.object, headers: { a: 'b' } },
    });
    agents.failTasks.clear();
    const retry = await store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: null },
      fromShark: EVAC,
      retryOf: first.id,
      metadataThreads: 2,
    });
    run.submit(retry);
    await run.whenDone(retry.id);
    assert.equal((await store.getJob(retry.id))?.state, 'complete');
    const counts = await store.counts(retry.id);
    assert.deepEqual(
      counts.filter((c) => c.bucket === 'status' && c.count > 0).map((c) => [c.name, c.count]),
      [['complete', 1]],
    );
    assert.deepEqual(
      metadata.records.get(t2.key)?.value.headers,
      { a: 'b' },
      'the user write is kept',
    );
    assert.deepEqual(metadata.records.get(t2.key)?.value.sharks, [DEST, OTHER]);
  });

  async function retryOf(previous: JobRecord): Promise<JobRecord> {
    return store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: null },
      fromShark: EVAC,
      retryOf: previous.id,
      metadataThreads: 2,
    });
  }

  async function statusCounts(jobId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const c of await store.counts(jobId)) {
      if (c.bucket === 'bytes_status') continue;
      if (c.count > 0 && c.bucket !== 'status') out[`${c.bucket}:${c.name}`] = c.count;
      else if (c.count > 0) out[c.name] = c.count;
    }
    return out;
  }

  test('a retry applies the exclusions and records what its fresh reads found', async () => {
    const objects = [record('r1', 1), record('r2', 1), record('r3', 1), record('logs/r4', 1)];
    const metadata = FakeMetadata.holding(objects);
    const agents = new FakeAgents();
    for (const o of objects) agents.failTasks.set(o.id, { Failed: { HTTPStatusCode: 500 } });
    const run = runner(source([]), agents, metadata);
    const first = await newJob();
    // The first job ran before logs/ was excluded: all four failed on their source.
    await store.recordDiscovered(first.id, objects);
    await store.transition(first.id, [
      {
        select: { ids: objects.map((o) => o.id) },
        from: 'unprocessed',
        to: { status: 'skipped', reason: '{http_status_code:500}' },
      },
    ]);
    assert.ok(await store.setJobState(first.id, ['setup'], 'complete'));
    agents.failTasks.clear();
    // Since: r2 deleted, r3 moved off the shark by someone else, the excluded one deleted.
    metadata.records.delete(objects[1]!.key);
    const r3 = metadata.records.get(objects[2]!.key)!;
    metadata.records.set(objects[2]!.key, {
      etag: 'moved',
      value: { ...r3.value, sharks: [OTHER, DEST] },
    });
    metadata.records.delete(objects[3]!.key);
    const retry = await retryOf(first);
    run.submit(retry);
    await run.whenDone(retry.id);
    assert.equal((await store.getJob(retry.id))?.state, 'complete');
    assert.deepEqual(await statusCounts(retry.id), {
      complete: 1,
      skipped: 3,
      'skip:metadata_object_not_found': 1,
      'skip:object_not_on_shark': 1,
      'skip:excluded_key_prefix': 1,
    });
    assert.equal(
      (await store.getObject(retry.id, 'logs/r4'))?.skippedReason,
      'excluded_key_prefix',
    );
  });

  test('a retry records a live record it cannot use as a bad record, never moves it', async () => {
    const objects = [record('u1', 1), record('u2', 1)];
    const metadata = FakeMetadata.holding(objects);
    const run = runner(source([]), new FakeAgents(), metadata);
    const first = await newJob();
    await store.recordDiscovered(first.id, objects);
    await store.transition(first.id, [
      {
        select: { ids: objects.map((o) => o.id) },
        from: 'unprocessed',
        to: { status: 'skipped', reason: '{http_status_code:500}' },
      },
    ]);
    assert.ok(await store.setJobState(first.id, ['setup'], 'complete'));
    // Since: u2's key holds a directory.
    const u2 = objects[1]!;
    const directory = { key: u2.key, owner: 'acct', type: 'directory', sharks: [EVAC] };
    metadata.records.set(u2.key, { etag: 'dir', value: directory });
    const retry = await retryOf(first);
    run.submit(retry);
    await run.whenDone(retry.id);
    assert.equal((await store.getJob(retry.id))?.state, 'complete');
    assert.deepEqual(await statusCounts(retry.id), {
      complete: 1,
      error: 1,
      'error:bad_manta_object': 1,
    });
    assert.deepEqual(metadata.records.get(u2.key), { etag: 'dir', value: directory });
  });

  test('a retry of a cancelled job re-processes what it left unprocessed', async () => {
    const objects = [record('c1', 1), record('c2', 1), record('c3', 1)];
    const metadata = FakeMetadata.holding(objects);
    const run = runner(source([]), new FakeAgents(), metadata);
    const first = await newJob();
    await store.recordDiscovered(first.id, objects);
    await store.transition(first.id, [
      { select: { ids: ['c1'] }, from: 'unprocessed', to: { status: 'complete' } },
    ]);
    assert.ok(await store.setJobState(first.id, ['setup'], 'cancelled'));
    const retry = await retryOf(first);
    run.submit(retry);
    await run.whenDone(retry.id);
    assert.equal((await store.getJob(retry.id))?.state, 'complete');
    assert.deepEqual(await statusCounts(retry.id), { complete: 2 });
    assert.deepEqual(metadata.records.get(objects[1]!.key)?.value.sharks, [DEST, OTHER]);
  });

  test('a job waiting for destinations says so: a warning and a gauge while it waits', async () => {
    const objects = [record('w1', 1)];
    const metadata = FakeMetadata.holding(objects);
    const metrics = new ManagerMetrics();
    const recorder = recordingLogger('wait');
    let waits = 0;
    const waiting = new TrackingChooser();
    const choose = waiting.choose.bind(waiting);
    const seen: string[] = [];
    waiting.choose = (o, avoid) => {
      if (waits++ < 3) return { outcome: 'wait' };
      return choose(o, avoid);
    };
    const executor = evacuateExecutor({
      source: source(objects),
      agents: new FakeAgents(),
      metadata,
      metrics,
      chooser: () => waiting,
      settings: { ...settings, waitForDestinationsMs: 20 },
    });
    const run = new JobRunner({ store, executor, log: recorder.log, cancelWaitMs: 50 });
    const job = await newJob();
    run.submit(job);
    for (let i = 0; i < 200 && seen.length === 0; i++) {
      const text = await metrics.text();
      if (text.includes(`rebalancer_job_waiting_for_destinations{job="${job.id}"`)) {
        seen.push(text);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await run.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    assert.equal(seen.length, 1, 'the gauge showed the wait');
    assert.ok(
      recorder.records.some((r) => r.msg.startsWith('waiting for destinations')),
      JSON.stringify(recorder.records.map((r) => r.msg)),
    );
    assert.doesNotMatch(await metrics.text(), /rebalancer_job_waiting_for_destinations\{job/);
  });

  test('a shard that cannot answer the read after a conflict errs the object, not the job', async () => {
    const objects = [record('lr1', 1), record('lr2', 1)];
    const metadata = FakeMetadata.holding(objects);
    // lr1 changed since discovery, and its shard stops answering reads.
    metadata.records.set(objects[0]!.key, { etag: 'moved-on', value: objects[0]!.object });
    const read = metadata.getObject.bind(metadata);
    metadata.getObject = async (ref) => {
      if (ref.key === objects[0]!.key) throw new Error('shard 1 is unreachable (cooling down)');
      return read(ref);
    };
    const run = runner(source(objects), new FakeAgents(), metadata);
    const job = await newJob();
    run.submit(job);
    await run.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    const lr1 = await store.getObject(job.id, 'lr1');
    assert.deepEqual([lr1?.status, lr1?.error], ['error', 'moray_update_failed']);
    assert.equal((await store.getObject(job.id, 'lr2'))?.status, 'complete');
  });

  test('max_objects stops discovery', async () => {
    const objects = Array.from({ length: 10 }, (_, i) => record(`m${i}`, 1));
    const metadata = FakeMetadata.holding(objects);
    const run = runner(source(objects), new FakeAgents(), metadata);
    const job = await newJob(4);
    run.submit(job);
    await run.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    const counts = await store.counts(job.id);
    assert.equal(counts.find((c) => c.bucket === 'status' && c.name === 'complete')?.count, 4);
  });

  test('a discovery failure fails the job with its cause', async () => {
    const failing: ObjectSource = {
      excludes: () => false,
      // biome-ignore lint/correctness/useYield: fails before yielding anything
      async *scan() {
        throw new Error('shard 7 unreachable');
      },
    };
    const run = runner(failing, new FakeAgents(), new FakeMetadata());
    const job = await newJob();
    run.submit(job);
    await run.whenDone(job.id);
    const done = await store.getJob(job.id);
    assert.equal(done?.state, 'failed');
    assert.match(done?.error ?? '', /discovery failed: shard 7 unreachable/);
  });

  test('an agent never has more than maxAssignmentsPerAgent unfinished; the rest wait', async () => {
    const objects = Array.from({ length: 30 }, (_, i) => record(`cap${i}`, 1));
    const metadata = FakeMetadata.holding(objects);
    const agents = new FakeAgents();
    agents.complete = false;
    const run = runner(source(objects), agents, metadata, chooser, { maxAssignmentsPerAgent: 2 });
    const job = await newJob();
    run.submit(job);
    for (let i = 0; i < 400 && agents.assignments.size < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // Time enough for more posts, were they allowed: the agent still holds just two.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(agents.assignments.size, 2);
    agents.complete = true;
    await run.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    assert.equal(agents.assignments.size, 10, '30 objects in assignments of 3');
    for (const o of objects) {
      assert.equal((await store.getObject(job.id, o.id))?.status, 'complete');
    }
  });

  test('a stalled agent and a busy one hold back only their own assignments', async () => {
    const STALLED: StorageNode = { manta_storage_id: '4.stor.test', datacenter: 'dc1' };
    const BUSY: StorageNode = { manta_storage_id: '5.stor.test', datacenter: 'dc1' };
    const dests = [DEST, STALLED, BUSY];
    const objects = Array.from({ length: 36 }, (_, i) => record(`sb${i}`, 1));
    const metadata = FakeMetadata.holding(objects);
    const inner = new FakeAgents();
    inner.busyOnce = false;
    let release!: () => void;
    const unstalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    let busyAnswers = 0;
    let busy = true;
    const agents: AgentClient = {
      async post(dest, payload) {
        if (busy && dest.manta_storage_id === BUSY.manta_storage_id) {
          busyAnswers++;
          return { kind: 'busy' };
        }
        return inner.post(dest, payload);
      },
      async get(dest, id) {
        // The stalled agent took its assignments, then stops answering until released.
        if (dest.manta_storage_id === STALLED.manta_storage_id) await unstalled;
        return inner.get(dest, id);
      },
    };
    let turn = 0;
    const spread: DestinationChooser = {
      choose: (_o, avoid) => {
        const free = dests.filter((d) => !avoid.later.has(d.manta_storage_id));
        const d = free[turn++ % Math.max(1, free.length)];
        return d ? { outcome: 'placed', shark: d } : { outcome: 'defer' };
      },
      restore: () => undefined,
      release: () => undefined,
      commit: () => undefined,
      releaseAll: () => undefined,
    };
    const run = runner(source(objects), agents, metadata, spread, {
      maxAssignmentsPerAgent: 2,
      maxBacklogPerAgent: 1,
      busyRetries: 1000,
    });
    const job = await newJob();
    run.submit(job);
    const onDest = () =>
      [...metadata.records.values()].filter((r) =>
        (r.value.sharks as StorageNode[]).some((c) => c.manta_storage_id === DEST.manta_storage_id),
      ).length;
    // Everything the healthy agent can take moves while the others stall and refuse.
    for (let i = 0; i < 400 && !(onDest() > 12 && busyAnswers > 5); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(onDest() > 12, `objects moved to the healthy agent: ${onDest()}`);
    assert.ok(busyAnswers > 5, `the busy agent was asked again: ${busyAnswers}`);
    assert.equal((await store.getJob(job.id))?.state, 'running');
    // Once both answer again, the job completes with nothing skipped.
    busy = false;
    release();
    await run.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    for (const o of objects) {
      assert.equal((await store.getObject(job.id, o.id))?.status, 'complete', o.id);
    }
  });

  test('a job interrupted while agents work is resumed by a new runner', async () => {
    const objects = Array.from({ length: 5 }, (_, i) => record(`r${i}`, 1));
    const metadata = FakeMetadata.holding(objects);
    const agents = new FakeAgents();
    agents.complete = false;
    const src = source(objects);
    const first = runner(src, agents, metadata);
    const job = await newJob();
    first.submit(job);
    // Wait until every object is assigned and posted, then shut the manager down.
    for (;;) {
      const assigned =
        (await store.counts(job.id)).find((c) => c.bucket === 'status' && c.name === 'assigned')
          ?.count ?? 0;
      if (assigned === 5 && (await store.assignmentsInStates(job.id, ['assigned'])).length === 2)
        break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await first.stop();
    assert.equal((await store.getJob(job.id))?.state, 'running');

    // A new process: its reservations start empty, and the job's in-flight assignments must
    // count against their shark again until the agents finish them.
    const restarted = new TrackingChooser();
    const second = runner(src, agents, metadata, restarted);
    assert.deepEqual(await second.start(), [job.id]);
    for (let i = 0; i < 2_000 && restarted.held.size < 5; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual([...restarted.held.keys()].sort(), objects.map((o) => o.id).sort());
    agents.complete = true;
    await second.whenDone(job.id);
    assert.equal(restarted.held.size, 0, 'every reservation released once the job is done');
    assert.equal((await store.getJob(job.id))?.state, 'complete');
    for (const o of objects)
      assert.equal((await store.getObject(job.id, o.id))?.status, 'complete');
    assert.equal(agents.assignments.size, 2, 'no assignment was posted twice');
  });

  test('a job cancelled, then interrupted while it winds down, winds down after a restart', async () => {
    // More objects than can be built into assignments before the cancel: the agent's lane
    // holds at most 2 posted and 2 waiting, 3 are queued and 1 being built, of 3 objects each,
    // and 8 objects wait for the agent to have room (44).
    const objects = Array.from({ length: 60 }, (_, i) => record(`cw${i}`, 1));
    const metadata = FakeMetadata.holding(objects);
    const agents = new FakeAgents();
    agents.complete = false;
    const src = source(objects);
    const capped = { maxAssignmentsPerAgent: 2, maxBacklogPerAgent: 2 };
    const first = runner(src, agents, metadata, chooser, capped);
    const job = await newJob();
    first.submit(job);
    for (let i = 0; i < 400 && agents.assignments.size < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await first.cancel(job.id)).state, 'running', 'agents still hold work');
    await first.stop();

    const second = runner(src, agents, metadata, new TrackingChooser(), capped);
    assert.deepEqual(await second.start(), [job.id]);
    agents.complete = true;
    await second.whenDone(job.id);
    assert.equal((await store.getJob(job.id))?.state, 'cancelled');
    // The statuses' counters only: bytes_status rows carry the same names.
    const counts = new Map(
      (await store.counts(job.id))
        .filter((c) => c.bucket === 'status')
        .map((c) => [c.name, c.count]),
    );
    // What agents were given (posted before or, built, at the restart) finished and landed;
    // nothing else started: the rest of the objects stay unprocessed.
    const complete = counts.get('complete') ?? 0;
    assert.equal(complete, agents.assignments.size * 3);
    assert.ok(complete < objects.length, `only in-flight work finished (${complete})`);
    assert.equal(counts.get('unprocessed'), objects.length - complete);
    assert.equal(counts.get('assigned') ?? 0, 0);
    const moved = [...metadata.records.values()].filter((r) => r.etag.endsWith('+')).length;
    assert.equal(moved, complete, 'what the job reports done is exactly what moved');
  });
});

describe('RecordUpdater', () => {
  const updater = (metadata: FakeMetadata) =>
    new RecordUpdater({
      metadata,
      settings,
      evacuated: EVAC.manta_storage_id,
      log,
      signal: new AbortController().signal,
    });

  test('an object to be placed again from a live record it cannot use is a bad record', async () => {
    const o = record('p1', 1);
    const metadata = FakeMetadata.holding([o]);
    metadata.records.set(o.key, { etag: 'dir', value: { key: o.key, type: 'directory' } });
    const placeAgain = () => assert.fail('never placed again from an unusable record');
    const result = await updater(metadata).update(o, DEST, {
      destAllowed: () => false,
      placeAgain,
    });
    assert.deepEqual(result, {
      status: 'error',
      error: 'bad_manta_object',
      detail:
        'field record must have required properties owner, objectId, contentLength, contentMD5, sharks',
    });
  });

  test('a conflict with a live record that is no object record is a user write: skipped', async () => {
    const o = record('p2', 1);
    const metadata = FakeMetadata.holding([o]);
    metadata.records.set(o.key, { etag: 'user', value: {} });
    const result = await updater(metadata).update(o, DEST, {
      destAllowed: () => true,
      placeAgain: () => true,
    });
    assert.deepEqual(result, { status: 'skipped', reason: 'metadata_etag_mismatch' });
    assert.deepEqual(metadata.records.get(o.key), { etag: 'user', value: {} });
  });
});
