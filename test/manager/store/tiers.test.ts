/**
 * Migration 7 (metadata tiers): objects carry their tier (rows from before: L's rule, a
 * `bucket_id` record is v2), checkpoints are keyed by tier (shard numbers overlap), and the v2
 * objects are counted per status apart from the totals.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ManagerStore, MIGRATIONS, migrate } from '../../../src/manager/store/index.ts';
import { createTestDatabase } from '../../support/database.ts';
import { mantaObject } from '../../support/manta-record.ts';

/** Every migration from `first` on: what a database made just before `first` is given. */
const versionsFrom = (first: number) => MIGRATIONS.map((m) => m.version).filter((v) => v >= first);

const BUCKET = '00000000-0000-4000-8000-0000000000b1';

async function insertJob(store: { db: ManagerStore['db'] }): Promise<string> {
  const id = randomUUID();
  await store.db.query(
    `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
     VALUES ($1, 'evacuate', 'running', $2, $3, 1)`,
    [
      id,
      JSON.stringify({ from_shark: '1.stor', max_objects: null }),
      JSON.stringify({ manta_storage_id: '1.stor', datacenter: '' }),
    ],
  );
  return id;
}

async function counts(store: ManagerStore, jobId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await store.counts(jobId))
    if (r.count !== 0 && r.bucket !== 'bytes_status') out[`${r.bucket}:${r.name}`] = r.count;
  return out;
}

describe('store: metadata tiers', () => {
  test('rows from before migration 7 get their tier and v2 counts; old checkpoints stay moray', async () => {
    const tdb = await createTestDatabase();
    try {
      await migrate(tdb.db, MIGRATIONS.slice(0, 6));
      const job = await insertJob(tdb);
      const v2 = mantaObject({ objectId: 'b', key: 'photo.jpg', bucket_id: BUCKET });
      for (const [id, object] of [
        ['a', mantaObject({ objectId: 'a', key: '/a/stor/a' })],
        ['b', v2],
      ] as const) {
        await tdb.db.query(
          `INSERT INTO evacuate_objects (job_id, id, key, shard, etag, object, status)
           VALUES ($1, $2, $3, 1, 'e', $4, 'unprocessed')`,
          [job, id, object.key, JSON.stringify(object)],
        );
      }
      await tdb.db.query(
        `INSERT INTO discovery_checkpoints (job_id, shard, cursor) VALUES ($1, 1, '{}')`,
        [job],
      );
      assert.deepEqual(await migrate(tdb.db), versionsFrom(7));
      const store = new ManagerStore(tdb.db);
      assert.equal((await store.getObject(job, 'a'))?.tier, 'moray');
      assert.equal((await store.getObject(job, 'b'))?.tier, 'buckets');
      assert.deepEqual(await counts(store, job), { 'buckets_status:unprocessed': 1 });
      assert.deepEqual(await store.loadCheckpoints(job), [{ shard: 1, cursor: '{}', done: false }]);
    } finally {
      await tdb.drop();
    }
  });

  test('the same shard number of both tiers keeps two checkpoints; v2 counts follow transitions', async () => {
    const tdb = await createTestDatabase();
    try {
      const store = await ManagerStore.open(tdb.db);
      const job = await insertJob(store);
      const v1 = {
        id: 'a',
        key: '/a/stor/a',
        shard: 1,
        etag: 'e',
        object: mantaObject({ objectId: 'a' }),
      };
      const v2 = {
        id: 'b',
        key: 'photo.jpg',
        shard: 1,
        tier: 'buckets' as const,
        etag: 'b',
        object: mantaObject({ objectId: 'b', key: 'photo.jpg', bucket_id: BUCKET }),
      };
      await store.recordDiscovered(job, [v1, v2], { shard: 1, cursor: 'moray', done: false });
      await store.recordDiscovered(job, [], {
        tier: 'buckets',
        shard: 1,
        cursor: 'buckets',
        done: false,
      });
      assert.deepEqual(await store.loadCheckpoints(job), [
        { shard: 1, cursor: 'moray', done: false },
        { tier: 'buckets', shard: 1, cursor: 'buckets', done: false },
      ]);
      await store.transition(job, [
        {
          select: { ids: ['a', 'b'] },
          from: 'unprocessed',
          to: { status: 'error', error: 'internal_error' },
        },
      ]);
      await store.recordFailed(
        job,
        { id: 'm', key: 'bad', shard: 1, tier: 'buckets' },
        'bad_manta_object',
        'no sharks',
      );
      assert.deepEqual(await counts(store, job), {
        'status:error': 3,
        'error:internal_error': 2,
        'error:bad_manta_object': 1,
        'buckets_status:error': 2,
      });
    } finally {
      await tdb.drop();
    }
  });
});
