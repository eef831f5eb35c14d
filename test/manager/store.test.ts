import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type DiscoveredObject,
  IllegalTransitionError,
  ManagerStore,
  MIGRATIONS,
  migrate,
  StoredRecordError,
} from '../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { mantaObject } from '../support/manta-record.ts';

function obj(id: string, shard = 1, key = `/acct/stor/${id}`): DiscoveredObject {
  return { id, key, shard, etag: `etag-${id}`, object: mantaObject({ objectId: id, key }) };
}

async function statusCounts(store: ManagerStore, jobId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await store.counts(jobId)) {
    if (r.bucket !== 'bytes_status') out[`${r.bucket}:${r.name}`] = r.count;
  }
  return out;
}

/** Bytes per status, the statuses holding any. */
async function bytesCounts(store: ManagerStore, jobId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await store.counts(jobId)) {
    if (r.bucket === 'bytes_status' && r.count !== 0) out[r.name] = r.count;
  }
  return out;
}

describe('manager store', () => {
  let tdb: TestDatabase;
  let store: ManagerStore;

  before(async () => {
    tdb = await createTestDatabase();
    store = await ManagerStore.open(tdb.db);
  });
  after(async () => {
    await tdb.drop();
  });

  async function newJob(): Promise<string> {
    const id = randomUUID();
    await store.createJob({
      id,
      action: 'evacuate',
      params: { from_shark: '1.stor', max_objects: null },
      fromShark: { manta_storage_id: '1.stor', datacenter: '' },
      metadataThreads: 10,
    });
    return id;
  }

  test('migrations are recorded and idempotent', async () => {
    assert.deepEqual(await migrate(tdb.db), []);
    const { rows } = await tdb.db.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
  });

  test('a database made before `cancelled` existed is upgraded to accept it', async () => {
    const old = await createTestDatabase();
    try {
      assert.deepEqual(await migrate(old.db, MIGRATIONS.slice(0, 2)), [1, 2]);
      const id = randomUUID();
      await old.db.query(
        `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
         VALUES ($1, 'evacuate', 'running', $2, $3, 1)`,
        [
          id,
          JSON.stringify({ from_shark: '1.stor', max_objects: null }),
          JSON.stringify({ manta_storage_id: '1.stor', datacenter: '' }),
        ],
      );
      await assert.rejects(
        old.db.query(`UPDATE jobs SET state = 'cancelled' WHERE id = $1`, [id]),
        /jobs_state_check/,
      );
      assert.deepEqual(
        await migrate(old.db),
        MIGRATIONS.slice(2).map((m) => m.version),
      );
      const upgraded = await ManagerStore.open(old.db);
      assert.equal((await upgraded.getJob(id))?.cancelRequestedAt, undefined);
      const cancelled = await upgraded.setJobState(id, ['running'], 'cancelled', 'by a test');
      assert.equal(cancelled?.state, 'cancelled');
    } finally {
      await old.drop();
    }
  });

  test('a database made at migration 8 takes evacuated_shark_unreachable; its jobs skipped single copies', async () => {
    const old = await createTestDatabase();
    try {
      await migrate(old.db, MIGRATIONS.slice(0, 8));
      const id = randomUUID();
      await old.db.query(
        `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
         VALUES ($1, 'evacuate', 'running', $2, $3, 1)`,
        [
          id,
          JSON.stringify({ from_shark: '1.stor', max_objects: null }),
          JSON.stringify({ manta_storage_id: '1.stor', datacenter: '' }),
        ],
      );
      const insert = () =>
        old.db.query(
          `INSERT INTO evacuate_objects (job_id, id, key, shard, etag, object, status, skipped_reason)
           VALUES ($1, 'x', '/x', 1, '', '{}', 'skipped', 'evacuated_shark_unreachable')`,
          [id],
        );
      await assert.rejects(insert(), /skipped_reason_check/);
      assert.deepEqual(
        await migrate(old.db),
        MIGRATIONS.map((m) => m.version).filter((v) => v >= 9),
      );
      await insert();
      const upgraded = await ManagerStore.open(old.db);
      assert.equal(
        (await upgraded.getObject(id, 'x'))?.skippedReason,
        'evacuated_shark_unreachable',
      );
      // Recorded before the option: such a job skipped single copies, and still does.
      assert.equal((await upgraded.getJob(id))?.params.single_copies, 'skip');
    } finally {
      await old.drop();
    }
  });

  test('a database made at migration 4 takes object_not_on_shark and keeps its duplicates', async () => {
    const old = await createTestDatabase();
    try {
      await migrate(old.db, MIGRATIONS.slice(0, 4));
      const id = randomUUID();
      await old.db.query(
        `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
         VALUES ($1, 'evacuate', 'running', $2, $3, 1)`,
        [
          id,
          JSON.stringify({ from_shark: '1.stor', max_objects: null }),
          JSON.stringify({ manta_storage_id: '1.stor', datacenter: '' }),
        ],
      );
      await old.db.query(
        `INSERT INTO duplicates (job_id, id, key, shard, object) VALUES ($1, 'o', '/k', 1, '{}')`,
        [id],
      );
      await assert.rejects(
        old.db.query(
          `INSERT INTO evacuate_objects (job_id, id, key, shard, etag, object, status, skipped_reason)
           VALUES ($1, 'x', '/x', 1, '', '{}', 'skipped', 'object_not_on_shark')`,
          [id],
        ),
        /skipped_reason_check/,
      );
      assert.deepEqual(
        await migrate(old.db),
        MIGRATIONS.map((m) => m.version).filter((v) => v >= 5),
      );
      const upgraded = await ManagerStore.open(old.db);
      await upgraded.recordDiscovered(id, [
        { id: 'x', key: '/x', shard: 1, etag: 'e', object: undefined },
      ]);
      await upgraded.transition(id, [
        {
          select: { ids: ['x'] },
          from: 'unprocessed',
          to: { status: 'skipped', reason: 'object_not_on_shark' },
        },
      ]);
      assert.equal((await upgraded.getObject(id, 'x'))?.skippedReason, 'object_not_on_shark');
      const [dup] = await upgraded.listDuplicates(id, undefined, 10);
      assert.deepEqual(
        { key: dup?.key, status: dup?.status, etag: dup?.etag },
        { key: '/k', status: 'pending', etag: '' },
      );
    } finally {
      await old.drop();
    }
  });

  test('a cancel request is recorded once, and only for a job not yet finished', async () => {
    const id = await newJob();
    assert.equal((await store.getJob(id))?.cancelRequestedAt, undefined);
    const first = await store.requestJobCancel(id);
    assert.ok(first?.cancelRequestedAt instanceof Date);
    assert.equal(first?.state, 'setup', 'the request does not change the state');
    const again = await store.requestJobCancel(id);
    assert.equal(again?.cancelRequestedAt?.getTime(), first?.cancelRequestedAt?.getTime());
    await store.setJobState(id, ['setup'], 'complete');
    assert.equal(await store.requestJobCancel(id), undefined);
    assert.equal(await store.requestJobCancel(randomUUID()), undefined);
  });

  test('a job is created in setup, read back, and moved only from allowed states', async () => {
    const id = await newJob();
    const job = await store.getJob(id);
    assert.equal(job?.state, 'setup');
    // Created without the options, as jobs recorded before them: single copies skipped, no
    // convergence.
    assert.deepEqual(job?.params, {
      from_shark: '1.stor',
      max_objects: null,
      single_copies: 'skip',
      converge_rounds: 0,
    });
    assert.equal(await store.setJobState(id, ['running'], 'complete'), undefined);
    const running = await store.setJobState(id, ['setup'], 'running');
    assert.equal(running?.state, 'running');
    const failed = await store.setJobState(id, ['running'], 'failed', 'discovery: boom');
    assert.equal(failed?.error, 'discovery: boom');
    assert.equal(await store.getJob(randomUUID()), undefined);
  });

  test('an unknown stored state is an error, not a default (IMP-9)', async () => {
    const id = await newJob();
    await tdb.db.query('ALTER TABLE jobs DROP CONSTRAINT jobs_state_check');
    try {
      await tdb.db.query(`UPDATE jobs SET state = 'hibernating' WHERE id = $1`, [id]);
      await assert.rejects(store.getJob(id), /unknown job state value/);
    } finally {
      await tdb.db.query(`UPDATE jobs SET state = 'failed' WHERE id = $1`, [id]);
      await tdb.db.query(
        `ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('init','setup','running','stopped','complete','failed','cancelled','paused','planned'))`,
      );
    }
  });

  test('discovered objects are recorded once; re-sends ignored; duplicates recorded', async () => {
    const jobId = await newJob();
    const first = await store.recordDiscovered(jobId, [obj('a'), obj('b'), obj('b')], {
      shard: 1,
      cursor: 'b',
      done: false,
    });
    assert.deepEqual(
      first.recorded.map((o) => o.id),
      ['a', 'b'],
    );
    assert.equal(first.duplicates, 0);
    // Resumed discovery re-sends b; c is new; a is seen again on shard 2 (a duplicate).
    const second = await store.recordDiscovered(jobId, [obj('b'), obj('c'), obj('a', 2)]);
    assert.deepEqual(
      second.recorded.map((o) => o.id),
      ['c'],
    );
    assert.equal(second.duplicates, 1);
    // The same duplicate occurrence again is not counted twice.
    assert.equal((await store.recordDiscovered(jobId, [obj('a', 2)])).duplicates, 0);
    assert.deepEqual(await statusCounts(store, jobId), {
      'status:unprocessed': 3,
      'duplicates:duplicates': 1,
    });
    assert.deepEqual(await store.loadCheckpoints(jobId), [{ shard: 1, cursor: 'b', done: false }]);
    const page = await store.objectsByStatus(jobId, 'unprocessed', 'a', 10);
    assert.deepEqual(
      page.map((o) => o.id),
      ['b', 'c'],
    );
    assert.deepEqual(page[0]?.object, mantaObject({ objectId: 'b', key: '/acct/stor/b' }));
  });

  test('bytes per status follow every transition (progress in bytes)', async () => {
    const jobId = await newJob();
    const sized = (id: string, bytes: number): DiscoveredObject => ({
      ...obj(id),
      object: mantaObject({ objectId: id, key: `/acct/stor/${id}`, contentLength: bytes }),
    });
    await store.recordDiscovered(jobId, [sized('a', 100), sized('b', 200), sized('c', 300)]);
    await store.recordFailed(
      jobId,
      { id: 'bad', key: '/bad', shard: 1 },
      'bad_manta_object',
      'no record',
    );
    assert.deepEqual(await bytesCounts(store, jobId), { unprocessed: 600 });
    const assignmentId = randomUUID();
    await store.createAssignment(jobId, {
      id: assignmentId,
      destShark: '2.stor',
      destDatacenter: 'dc2',
      totalBytes: 300,
      objectIds: ['a', 'b'],
    });
    assert.deepEqual(await bytesCounts(store, jobId), { unprocessed: 300, assigned: 300 });
    await store.transition(jobId, [
      { select: { assignmentId }, from: 'assigned', to: { status: 'post_processing' } },
    ]);
    const live = mantaObject({ objectId: 'b', key: '/acct/stor/b', contentLength: 200 });
    await store.placeAgainFromLive(jobId, [{ id: 'b', etag: 'etag-b2', object: live }]);
    await store.transition(jobId, [
      { select: { ids: ['a'] }, from: 'post_processing', to: { status: 'complete' } },
      {
        select: { ids: ['c'] },
        from: 'unprocessed',
        to: { status: 'skipped', reason: 'source_is_evac_shark' },
      },
    ]);
    assert.deepEqual(await bytesCounts(store, jobId), {
      unprocessed: 200,
      complete: 100,
      skipped: 300,
    });
  });

  test('transitions move only objects in the from status and keep counters exact', async () => {
    const jobId = await newJob();
    await store.recordDiscovered(
      jobId,
      ['a', 'b', 'c', 'd'].map((id) => obj(id)),
    );
    const assignmentId = randomUUID();
    const created = await store.createAssignment(jobId, {
      id: assignmentId,
      destShark: '2.stor',
      destDatacenter: 'dc2',
      totalBytes: 10,
      objectIds: ['a', 'b', 'c'],
    });
    assert.equal(created?.assignment.taskCount, 3);
    assert.equal(created?.assignment.state, 'init');
    const [skipped] = await store.transition(jobId, [
      {
        select: { ids: ['d'] },
        from: 'unprocessed',
        to: { status: 'skipped', reason: 'source_is_evac_shark' },
      },
    ]);
    assert.deepEqual(skipped, ['d']);
    const changed = await store.transition(jobId, [
      {
        select: { ids: ['a'] },
        from: 'assigned',
        to: { status: 'skipped', reason: '{http_status_code:500}' },
      },
      { select: { assignmentId }, from: 'assigned', to: { status: 'post_processing' } },
    ]);
    assert.deepEqual(changed[0], ['a']);
    assert.deepEqual(changed[1]?.sort(), ['b', 'c']);
    await store.transition(jobId, [
      { select: { ids: ['b'] }, from: 'post_processing', to: { status: 'complete' } },
      {
        select: { ids: ['c'] },
        from: 'post_processing',
        to: { status: 'error', error: 'moray_update_failed', detail: 'ECONNRESET' },
      },
      // Already complete: not in post_processing any more, so nothing changes.
      { select: { ids: ['b'] }, from: 'post_processing', to: { status: 'complete' } },
    ]);
    assert.deepEqual(await statusCounts(store, jobId), {
      'status:unprocessed': 0,
      'status:assigned': 0,
      'status:post_processing': 0,
      'status:skipped': 2,
      'status:complete': 1,
      'status:error': 1,
      'skip:source_is_evac_shark': 1,
      'skip:{http_status_code:500}': 1,
      'error:moray_update_failed': 1,
    });
    const c = await store.getObject(jobId, 'c');
    assert.equal(c?.errorDetail, 'ECONNRESET');
    assert.equal(c?.destShark, '2.stor');
    await assert.rejects(
      store.transition(jobId, [
        { select: { ids: ['b'] }, from: 'complete', to: { status: 'unprocessed' } },
      ]),
      IllegalTransitionError,
    );
  });

  test('stored records are checked when read back: none usable, or an error where one must be', async () => {
    const jobId = await newJob();
    await store.recordDiscovered(jobId, [
      obj('a'),
      obj('b'),
      { id: 'x', key: '/acct/stor/x', shard: 1, etag: '', object: undefined },
    ]);
    await store.recordFailed(
      jobId,
      { id: 'm', key: '/acct/stor/m', shard: 1 },
      'bad_manta_object',
      'p',
    );
    // What an earlier version stored for an excluded object.
    await tdb.db.query(
      `UPDATE evacuate_objects SET object = '{"key":"/acct/stor/b","objectId":"b"}'::jsonb
        WHERE job_id = $1 AND id = 'b'`,
      [jobId],
    );
    const page = await store.objectsByStatus(jobId, 'unprocessed', undefined, 10);
    assert.deepEqual(
      page.map((o) => [o.id, o.object?.objectId]),
      [
        ['a', 'a'],
        ['b', undefined],
        ['x', undefined],
      ],
    );
    const { rows } = await tdb.db.query<{ id: string; etag: string; object: unknown }>(
      `SELECT id, etag, object FROM evacuate_objects WHERE job_id = $1 AND id IN ('x', 'm') ORDER BY id`,
      [jobId],
    );
    assert.deepEqual(rows, [
      { id: 'm', etag: '', object: {} },
      { id: 'x', etag: '', object: {} },
    ]);
    assert.equal((await store.getObject(jobId, 'm'))?.object, undefined);
    // An assignment's objects were placed from their records: one without is an error.
    const assignmentId = randomUUID();
    await store.createAssignment(jobId, {
      id: assignmentId,
      destShark: '2.stor',
      destDatacenter: 'dc2',
      totalBytes: 2,
      objectIds: ['a', 'b'],
    });
    await assert.rejects(
      store.objectsOfAssignment(jobId, assignmentId),
      (err) =>
        err instanceof StoredRecordError &&
        err.code === 'stored_record_invalid' &&
        err.where === 'evacuate_objects b',
    );
    await tdb.db.query(
      `UPDATE evacuate_objects SET object = $2::jsonb WHERE job_id = $1 AND id = 'b'`,
      [jobId, JSON.stringify(obj('b').object)],
    );
    const assigned = await store.objectsOfAssignment(jobId, assignmentId);
    assert.deepEqual(
      assigned.map((o) => o.object.objectId),
      ['a', 'b'],
    );
  });

  test('an unknown skip reason is refused by the database', async () => {
    const jobId = await newJob();
    await store.recordDiscovered(jobId, [obj('x')]);
    await assert.rejects(
      tdb.db.query(`UPDATE evacuate_objects SET status = 'skipped', skipped_reason = 'whatever'`),
    );
  });

  test('counters stay exact under concurrent transitions', async () => {
    const jobId = await newJob();
    const ids = Array.from({ length: 200 }, (_, i) => `o${String(i).padStart(4, '0')}`);
    await store.recordDiscovered(
      jobId,
      ids.map((id) => obj(id)),
    );
    const reasons = ['network_error', 'agent_busy', 'md5_mismatch'] as const;
    // Each id is targeted by two competing transitions: exactly one may win.
    await Promise.all(
      ids.flatMap((id, i) => [
        store.transition(jobId, [
          {
            select: { ids: [id] },
            from: 'unprocessed',
            to: { status: 'skipped', reason: reasons[i % 3]! },
          },
        ]),
        store.transition(jobId, [
          {
            select: { ids: [id] },
            from: 'unprocessed',
            to: { status: 'error', error: 'internal_error' },
          },
        ]),
      ]),
    );
    const counts = await statusCounts(store, jobId);
    const { rows } = await tdb.db.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM evacuate_objects WHERE job_id = $1 GROUP BY status',
      [jobId],
    );
    const actual = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    assert.equal(counts['status:unprocessed'], 0);
    assert.equal(counts['status:skipped'] ?? 0, actual.skipped ?? 0);
    assert.equal(counts['status:error'] ?? 0, actual.error ?? 0);
    assert.equal((actual.skipped ?? 0) + (actual.error ?? 0), 200);
    const skipSum = reasons.reduce((s, r) => s + (counts[`skip:${r}`] ?? 0), 0);
    assert.equal(skipSum, actual.skipped ?? 0);
  });
});
