/**
 * The audits' store: counts moved with their cursor in one transaction (exact across a
 * resume), an unsafe record seen twice listed and counted once, the verdict at the end, pages
 * of unsafe objects by key that never split a key, and the shark's latest complete audit.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { type AuditedObject, MIGRATIONS } from '../../../src/manager/store/index.ts';
import { useStore } from '../../support/store.ts';

const SHARK = '1.stor.store.test';

const audited = (
  key: string,
  outcome: AuditedObject['outcome'],
  tier: AuditedObject['tier'] = 'moray',
): AuditedObject => ({
  key,
  tier,
  shard: 1,
  objectId: outcome === 'unreadable_record' ? undefined : `id-${key}`,
  outcome,
});

describe('store: audits', () => {
  const fixture = useStore();

  async function auditJob(shark = SHARK): Promise<string> {
    const job = await fixture.store.createJob({
      id: randomUUID(),
      action: 'audit',
      params: { from_shark: shark, max_objects: null, deep: true },
      fromShark: { manta_storage_id: shark, datacenter: 'dc1' },
      metadataThreads: 1,
    });
    assert.equal(job.action, 'audit');
    assert.equal(job.params.deep, true);
    return job.id;
  }

  test('migration 11 (audits) is applied, and jobs take the audit action', async () => {
    assert.equal(MIGRATIONS.find((m) => m.version === 11)?.name, 'audits');
    const { rows } = await fixture.db.query<{ version: number }>(
      'SELECT max(version) AS version FROM schema_migrations',
    );
    assert.equal(rows[0]?.version, MIGRATIONS.at(-1)?.version);
    await assert.rejects(
      fixture.db.query(
        `INSERT INTO jobs (id, action, state, params, from_shark, metadata_threads)
         VALUES ($1, 'audits', 'setup', '{}', '{}', 1)`,
        [randomUUID()],
      ),
      /jobs_action_check/,
    );
  });

  test('counts and cursors move together; a resumed audit goes on from them', async () => {
    const id = await auditJob();
    const started = await fixture.store.startAudit({ jobId: id, shark: SHARK, deep: false });
    assert.equal(started.state, 'running');
    assert.equal(started.deep, false);
    await fixture.store.recordAudited(
      id,
      [audited('/a', 'safe'), audited('/b', 'only_copy'), audited('v2key', 'safe', 'buckets')],
      { tier: 'moray', shard: 1, cursor: '{"_id":{"through":"10"}}' },
    );
    // A write that fails (its cursor cannot be stored) leaves neither its counts nor a cursor.
    await assert.rejects(
      fixture.store.recordAudited(id, [audited('/c', 'safe'), audited('/e', 'only_copy')], {
        tier: 'moray',
        shard: Number.NaN,
        cursor: '{}',
      }),
    );
    const resumed = await fixture.store.startAudit({ jobId: id, shark: SHARK, deep: true });
    assert.equal(resumed.deep, false, 'a resumed audit keeps its depth');
    assert.deepEqual(resumed.scanned, { v1: 2, v2: 1 });
    assert.equal(resumed.safe, 2);
    assert.equal(resumed.unsafe.only_copy, 1);
    assert.deepEqual(await fixture.store.auditCursors(id), [
      { tier: 'moray', shard: 1, cursor: '{"_id":{"through":"10"}}' },
    ]);
    // The last objects (no cursor covers them) are counted with the completion; the same
    // unsafe record again (seen twice by a scan) is listed and counted once.
    const done = await fixture.store.finishAudit(id, {
      state: 'complete',
      last: [audited('/b', 'only_copy'), audited('/d', 'unreadable_record')],
    });
    assert.equal(done?.verdict, 'unsafe');
    assert.deepEqual(done?.unsafe, {
      only_copy: 1,
      other_copies_missing: 0,
      other_copies_unverified: 0,
      unreadable_record: 1,
    });
    assert.deepEqual(done?.scanned, { v1: 3, v2: 1 });
    assert.ok(done?.finishedAt instanceof Date);
    assert.equal(
      await fixture.store.finishAudit(id, { state: 'failed', error: 'x' }),
      undefined,
      'only a running audit ends',
    );
    const again = await fixture.store.startAudit({ jobId: id, shark: SHARK, deep: false });
    assert.equal(again.state, 'complete', 'a complete audit is not restarted');
    const unreadable = (await fixture.store.unsafeObjects(id, undefined, 10)).find(
      (o) => o.key === '/d',
    );
    assert.equal(unreadable?.objectId, undefined);
  });

  test('no unsafe object: safe; cancelled or failed: no verdict', async () => {
    const ok = await auditJob();
    await fixture.store.startAudit({ jobId: ok, shark: SHARK, deep: false });
    await fixture.store.recordAudited(ok, [audited('/x', 'safe')]);
    assert.equal((await fixture.store.finishAudit(ok, { state: 'complete' }))?.verdict, 'safe');
    const stopped = await auditJob();
    await fixture.store.startAudit({ jobId: stopped, shark: SHARK, deep: false });
    const cancelled = await fixture.store.finishAudit(stopped, {
      state: 'cancelled',
      error: 'cancelled by the operator',
    });
    assert.equal(cancelled?.verdict, undefined);
    assert.equal(cancelled?.error, 'cancelled by the operator');
    // A failed audit started again (an evacuation resumed) runs on from its cursors.
    const failing = await auditJob();
    await fixture.store.startAudit({ jobId: failing, shark: SHARK, deep: false });
    await fixture.store.recordAudited(failing, [audited('/y', 'safe')]);
    await fixture.store.finishAudit(failing, { state: 'failed', error: 'shard 1 unreachable' });
    const rerun = await fixture.store.startAudit({ jobId: failing, shark: SHARK, deep: false });
    assert.equal(rerun.state, 'running');
    assert.equal(rerun.error, undefined);
    assert.equal(rerun.safe, 1);
  });

  test('pages by key never split a key; the latest complete audit of a shark', async () => {
    const shark = '9.stor.store.test';
    const id = await auditJob(shark);
    await fixture.store.startAudit({ jobId: id, shark, deep: false });
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    await fixture.store.recordAudited(id, [
      ...keys.map((k) => audited(k, 'only_copy')),
      audited('k2', 'other_copies_missing', 'buckets'),
    ]);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await fixture.store.unsafeObjects(id, after, 2);
      if (page.length === 0) break;
      seen.push(...page.map((o) => `${o.key}/${o.tier}`));
      after = page.at(-1)?.key;
    }
    assert.deepEqual(seen, [
      'k1/moray',
      'k2/buckets',
      'k2/moray',
      'k3/moray',
      'k4/moray',
      'k5/moray',
    ]);
    assert.equal(await fixture.store.latestAuditOf(shark), undefined, 'none complete yet');
    assert.equal((await fixture.store.newestAuditOf(shark))?.jobId, id);
    await fixture.store.finishAudit(id, { state: 'complete' });
    const newer = await auditJob(shark);
    await fixture.store.startAudit({ jobId: newer, shark, deep: false });
    assert.equal(
      (await fixture.store.latestAuditOf(shark))?.jobId,
      id,
      'a running audit is not the latest',
    );
    assert.equal((await fixture.store.newestAuditOf(shark))?.jobId, newer);
    await fixture.store.finishAudit(newer, { state: 'complete' });
    assert.equal((await fixture.store.latestAuditOf(shark))?.verdict, 'safe');
    assert.equal(await fixture.store.latestAuditOf('nothing.stor.store.test'), undefined);
  });
});
