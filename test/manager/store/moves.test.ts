/**
 * Status changes as one statement (src/manager/store/moves.ts): an assignment's creation and a
 * single-group transition move the objects and the job's counters together, exactly, also when
 * many run at once on the store's pool; a move into the status it leaves is refused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ManagerStore } from '../../../src/manager/store/index.ts';
import { moveCounted, SameStatusMoveError } from '../../../src/manager/store/moves.ts';
import { createTestDatabase } from '../../support/database.ts';
import { mantaObject } from '../../support/manta-record.ts';

const BUCKET = '00000000-0000-4000-8000-0000000000b1';

async function newJob(store: ManagerStore): Promise<string> {
  const job = await store.createJob({
    id: randomUUID(),
    action: 'evacuate',
    params: { from_shark: '1.stor.test', max_objects: null },
    fromShark: { manta_storage_id: '1.stor.test', datacenter: 'dc1' },
    metadataThreads: 1,
  });
  return job.id;
}

/** The counters as the store keeps them, and as a recount of the rows finds them. */
async function countersAndRecount(store: ManagerStore, jobId: string) {
  const kept: Record<string, number> = {};
  for (const c of await store.counts(jobId))
    if (c.count !== 0) kept[`${c.bucket}:${c.name}`] = c.count;
  const { rows } = await store.db.query<{ bucket: string; name: string; n: string }>(
    `SELECT 'status' AS bucket, status AS name, count(*) AS n FROM evacuate_objects
      WHERE job_id = $1 GROUP BY status
     UNION ALL
     SELECT 'buckets_status', status, count(*) FROM evacuate_objects
      WHERE job_id = $1 AND tier = 'buckets' GROUP BY status
     UNION ALL
     SELECT 'bytes_status', status, sum((object ->> 'contentLength')::bigint) FROM evacuate_objects
      WHERE job_id = $1 GROUP BY status
     UNION ALL
     SELECT 'skip', skipped_reason, count(*) FROM evacuate_objects
      WHERE job_id = $1 AND status = 'skipped' GROUP BY skipped_reason`,
    [jobId],
  );
  const recount: Record<string, number> = {};
  for (const r of rows) if (Number(r.n) !== 0) recount[`${r.bucket}:${r.name}`] = Number(r.n);
  return { kept, recount };
}

describe('store: moves in one statement', () => {
  test('assignments and transitions, 40 at once, keep the counters equal to a recount', async () => {
    const tdb = await createTestDatabase();
    try {
      const store = await ManagerStore.open(tdb.db);
      const jobId = await newJob(store);
      const objects = Array.from({ length: 400 }, (_, i) => {
        const id = `o${i}`;
        const v2 = i % 4 === 0;
        const object = mantaObject({
          objectId: id,
          key: v2 ? `k${i}` : `/acct/stor/k${i}`,
          contentLength: 1000 + i,
          ...(v2 ? { bucket_id: BUCKET } : {}),
        });
        return { id, key: object.key, shard: 1, etag: `e${i}`, object };
      });
      await store.recordDiscovered(jobId, objects);
      // 40 assignments of 10 objects each, all at once; one asks for objects already taken.
      const groups = Array.from({ length: 40 }, (_, g) => objects.slice(g * 10, g * 10 + 10));
      const made = await Promise.all(
        groups.map((group) =>
          store.createAssignment(jobId, {
            id: randomUUID(),
            destShark: '2.stor.test',
            destDatacenter: 'dc1',
            totalBytes: 1,
            objectIds: group.map((o) => o.id),
          }),
        ),
      );
      const again = await store.createAssignment(jobId, {
        id: randomUUID(),
        destShark: '3.stor.test',
        destDatacenter: 'dc1',
        totalBytes: 1,
        objectIds: ['o0', 'o1'],
      });
      assert.equal(again, undefined, 'objects already assigned make no assignment');
      assert.ok(made.every((m) => m?.objectIds.length === 10 && m.assignment.taskCount === 10));
      // Half the assignments finish, a quarter have their objects skipped, at once.
      await Promise.all(
        made.map((m, i) =>
          store.transition(jobId, [
            i % 4 === 0
              ? {
                  select: { assignmentId: m?.assignment.id as string },
                  from: 'assigned' as const,
                  to: { status: 'skipped' as const, reason: 'agent_assignment_timeout' as const },
                }
              : {
                  select: { assignmentId: m?.assignment.id as string },
                  from: 'assigned' as const,
                  to: { status: 'post_processing' as const },
                },
          ]),
        ),
      );
      const { kept, recount } = await countersAndRecount(store, jobId);
      assert.deepEqual(kept, recount);
      assert.equal(kept['status:post_processing'], 300);
      assert.equal(kept['skip:agent_assignment_timeout'], 100);
    } finally {
      await tdb.drop();
    }
  });

  test('a move into the status it leaves is refused before it reaches the store', async () => {
    const tdb = await createTestDatabase();
    try {
      await assert.rejects(
        moveCounted(tdb.db, randomUUID(), {
          update: 'SELECT 1',
          params: [],
          from: 'assigned' as const,
          to: 'assigned',
        }),
        (err: unknown) => err instanceof SameStatusMoveError && err.code === 'same_status_move',
      );
    } finally {
      await tdb.drop();
    }
  });
});
