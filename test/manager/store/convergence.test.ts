/**
 * Convergence's edge out of a terminal status: curable objects are found by reason and round,
 * reopened, settled or replaced by a rewritten version, with the counters exact and each change
 * tagged with its round.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ManagerStore } from '../../../src/manager/store/index.ts';
import { mantaObject } from '../../support/manta-record.ts';
import { useStore } from '../../support/store.ts';

async function insertJob(store: ManagerStore): Promise<string> {
  const id = randomUUID();
  await store.db.query(
    `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
     VALUES ($1, 'evacuate', 'running', $2, $3, 1)`,
    [
      id,
      JSON.stringify({ from_shark: '1.stor', max_objects: null, converge_rounds: 3 }),
      JSON.stringify({ manta_storage_id: '1.stor', datacenter: '' }),
    ],
  );
  return id;
}

async function counts(store: ManagerStore, jobId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await store.counts(jobId))
    if (r.count !== 0) out[`${r.bucket}:${r.name}`] = r.count;
  return out;
}

/** The counters recomputed from the rows: what they must equal. */
async function recount(store: ManagerStore, jobId: string): Promise<Record<string, number>> {
  const { rows } = await store.db.query<{ k: string; n: string }>(
    `SELECT 'status:' || status AS k, count(*) AS n FROM evacuate_objects WHERE job_id = $1 GROUP BY 1
     UNION ALL SELECT 'skip:' || skipped_reason, count(*) FROM evacuate_objects
      WHERE job_id = $1 AND skipped_reason IS NOT NULL GROUP BY 1
     UNION ALL SELECT 'error:' || error, count(*) FROM evacuate_objects
      WHERE job_id = $1 AND error IS NOT NULL GROUP BY 1
     UNION ALL SELECT 'bytes_status:' || status,
            sum((object ->> 'contentLength')::bigint) FROM evacuate_objects WHERE job_id = $1
      GROUP BY 1`,
    [jobId],
  );
  const out: Record<string, number> = {};
  for (const r of rows) if (Number(r.n) !== 0) out[r.k] = Number(r.n);
  return out;
}

const object = (id: string, size = 10) => ({
  id,
  key: `/acct/stor/${id}`,
  shard: 1,
  etag: `e-${id}`,
  object: mantaObject({ objectId: id, key: `/acct/stor/${id}`, contentLength: size }),
});

describe('store: convergence', () => {
  const fixture = useStore();

  test('curable objects by reason and round; every change keeps the counters exact', async () => {
    const job = await insertJob(fixture.store);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    await fixture.store.recordDiscovered(
      job,
      ids.map((id) => object(id, id.charCodeAt(0))),
    );
    const skip = (id: string, reason: string) => ({
      select: { ids: [id] },
      from: 'unprocessed' as const,
      to: { status: 'skipped' as const, reason: reason as 'agent_busy' },
    });
    await fixture.store.transition(job, [
      skip('a', 'metadata_etag_mismatch'),
      skip('b', 'agent_assignment_timeout'),
      skip('c', '{http_status_code:503}'),
      skip('d', 'metadata_object_not_found'),
      {
        select: { ids: ['e'] },
        from: 'unprocessed',
        to: { status: 'error', error: 'moray_update_failed' },
      },
      {
        select: { ids: ['f'] },
        from: 'unprocessed',
        to: { status: 'error', error: 'bad_manta_object' },
      },
      { select: { ids: ['g'] }, from: 'unprocessed', to: { status: 'complete' } },
    ]);
    const curable = await fixture.store.curableObjects(job, 1, undefined, 100);
    assert.deepEqual(
      curable.map((o) => o.id),
      ['a', 'b', 'c', 'e'],
      'gone, bad and complete objects are not curable',
    );
    assert.equal(await fixture.store.countCurable(job, 1), 4);
    const [a, b, c, e] = curable as [
      (typeof curable)[0],
      (typeof curable)[0],
      (typeof curable)[0],
      (typeof curable)[0],
    ];
    const applied = await fixture.store.applyConvergence(job, 1, [
      { kind: 'reopen', from: b, etag: 'fresh', object: object('b', 98).object },
      { kind: 'settle', from: c, to: { status: 'skipped', reason: 'object_not_on_shark' } },
      { kind: 'rewritten', from: a, successor: object('a2', 50) },
      { kind: 'reopen', from: e, etag: 'fresh-e', object: object('e', 101).object },
    ]);
    assert.deepEqual(applied, { reopened: 2, settled: 1, rewritten: 1, successors: 1 });
    assert.deepEqual(await counts(fixture.store, job), await recount(fixture.store, job));
    assert.equal((await fixture.store.getObject(job, 'b'))?.etag, 'fresh');
    assert.equal((await fixture.store.getObject(job, 'b'))?.status, 'unprocessed');
    assert.equal((await fixture.store.getObject(job, 'a'))?.skippedReason, 'object_rewritten');
    assert.equal((await fixture.store.getObject(job, 'a2'))?.status, 'unprocessed');
    assert.equal(await fixture.store.countCurable(job, 1), 0, 'a round takes an object once');
    assert.equal(await fixture.store.lastConvergeRound(job), 1);
    // A change read from a state the row has left is not applied (nor counted) twice.
    const again = await fixture.store.applyConvergence(job, 1, [
      { kind: 'settle', from: c, to: { status: 'skipped', reason: 'object_not_on_shark' } },
    ]);
    assert.equal(again.settled, 0);
    // The reopened ones fail again: the next round takes them.
    await fixture.store.transition(job, [
      skip('b', 'agent_busy'),
      skip('e', 'destination_unreachable'),
    ]);
    assert.deepEqual(
      (await fixture.store.curableObjects(job, 2, undefined, 100)).map((o) => o.id),
      ['b', 'e'],
    );
    assert.deepEqual(await fixture.store.roundOutcome(job, 1), [
      { status: 'skipped', reason: 'agent_busy', successor: false, count: 1 },
      { status: 'skipped', reason: 'destination_unreachable', successor: false, count: 1 },
      { status: 'skipped', reason: 'object_not_on_shark', successor: false, count: 1 },
      { status: 'skipped', reason: 'object_rewritten', successor: false, count: 1 },
      { status: 'unprocessed', reason: undefined, successor: true, count: 1 },
    ]);
    assert.deepEqual(await counts(fixture.store, job), await recount(fixture.store, job));
  });
});
