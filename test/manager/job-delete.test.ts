/**
 * `DELETE /jobs/{uuid}` and `job_retention_days` (issue 19) on a real listening manager over a
 * real store: a finished job goes with every row of every table that names it and nothing of
 * another job; a job not finished, still winding down or read by its unfinished retry is a 409;
 * the schema cascades from every such table; the purge takes only old finished jobs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { JobStateDb } from '../../src/api/manager.ts';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import { createLogger } from '../../src/log/index.ts';
import { ConfigError, parseConfig } from '../../src/manager/config.ts';
import type { ApiTokens } from '../../src/manager/http/auth.ts';
import { JobDataService } from '../../src/manager/jobs/job-data.ts';
import { JobRetention } from '../../src/manager/jobs/retention.ts';
import { RELOAD_CLASSES } from '../../src/manager/reload.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import { ManagerStore } from '../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  blockingExecutor,
  createJob,
  EVACUATED,
  fillOtherTables,
  jobTables,
  rowsOf,
  seedObjects,
} from './job-data-fixture.ts';
import { until } from './jobs/evacuate/helpers.ts';

const silent = createLogger({ name: 'job-delete-test', level: 'silent' });
const TOKEN = 'a-sixteen-char-token';
const startOptions = {
  executor: blockingExecutor,
  sharks: new StaticSharkDirectory([EVACUATED], 'example.com'),
  log: silent,
  settings: () => ({ snaplinkCleanupRequired: false, metadataThreads: 1 }),
  cancelWaitMs: 2000,
};

describe('DELETE /jobs/{uuid} and job retention', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let base: string;
  let tokens: ApiTokens = { api: undefined, read: undefined };

  before(async () => {
    tdb = await createTestDatabase();
    service = await startManagerService({ db: tdb.db, ...startOptions, tokens: () => tokens });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await service.close();
    await tdb.drop();
  });

  async function call(method: string, path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, { method, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const age = (id: string, days: number) =>
    tdb.db.query(`UPDATE jobs SET updated_at = now() - make_interval(days => $2) WHERE id = $1`, [
      id,
      days,
    ]);

  test('every table naming a job cascades from jobs (a retry only loses its link)', async () => {
    const { rows } = await tdb.db.query<{ tbl: string; ref: string; del: string }>(
      `SELECT conrelid::regclass::text AS tbl, confrelid::regclass::text AS ref,
              confdeltype AS del
         FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2`,
    );
    for (const r of rows) {
      assert.ok(['jobs', 'audits'].includes(r.ref), `${r.tbl} references ${r.ref}`);
      assert.equal(r.del, r.tbl === 'jobs' ? 'n' : 'c', `${r.tbl} -> ${r.ref} on delete`);
    }
    const referencing = new Set(rows.filter((r) => r.tbl !== 'jobs').map((r) => r.tbl));
    assert.deepEqual([...referencing].sort(), await jobTables(tdb.db));
  });

  test('a finished job goes with every row of every table, another job keeps all of its', async () => {
    const [doomed, kept] = [await createJob(service.store), await createJob(service.store)];
    for (const [id, tag] of [
      [doomed, 'd'],
      [kept, 'k'],
    ] as const) {
      await seedObjects(service.store, id, tag);
      await fillOtherTables(service.store, tdb.db, id, tag);
    }
    const before = await rowsOf(tdb.db, doomed);
    for (const [table, n] of Object.entries(before)) assert.ok(n > 0, `no ${table} row to delete`);
    const keptBefore = await rowsOf(tdb.db, kept);

    const res = await call('DELETE', `/jobs/${doomed}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { deleted: doomed, objects: 24 });
    for (const [table, n] of Object.entries(await rowsOf(tdb.db, doomed))) {
      assert.equal(n, 0, `${table} keeps a row of the deleted job`);
    }
    assert.deepEqual(await rowsOf(tdb.db, kept), keptBefore);
    assert.equal((await call('GET', `/jobs/${doomed}`)).status, 404);
    assert.equal((await call('DELETE', `/jobs/${doomed}`)).status, 404);
    assert.equal((await call('GET', `/jobs/${kept}/objects`)).status, 200);
  });

  test('every final state may be deleted, an audit too', async () => {
    const states: JobStateDb[] = ['stopped', 'complete', 'failed', 'cancelled', 'planned'];
    for (const state of states) {
      const id = await createJob(service.store, state);
      assert.deepEqual((await call('DELETE', `/jobs/${id}`)).body, { deleted: id, objects: 0 });
    }
    const audit = await service.store.createJob({
      id: randomUUID(),
      action: 'audit',
      params: { from_shark: EVACUATED.manta_storage_id, max_objects: null, deep: false },
      fromShark: EVACUATED,
      metadataThreads: 1,
    });
    await service.store.startAudit({ jobId: audit.id, shark: 'x', deep: false });
    await service.store.setJobState(audit.id, ['setup'], 'complete');
    assert.equal((await call('DELETE', `/jobs/${audit.id}`)).status, 200);
  });

  test('409 for a job not finished, still running here, or read by its unfinished retry', async () => {
    const created = await fetch(`${base}/jobs`, {
      method: 'POST',
      body: JSON.stringify({ action: 'evacuate', params: { from_shark: '1.stor' } }),
    });
    // First: a job of the store left running on the shark would refuse this one (409).
    assert.equal(created.status, 200);
    const running = (await created.text()).trim();
    await until(() => service.runner.runningIds().includes(running), 'the job runs');
    assert.equal((await call('DELETE', `/jobs/${running}`)).status, 409);
    assert.equal((await call('POST', `/jobs/${running}/cancel`)).body.state, 'Cancelled');
    await until(() => !service.runner.runningIds().includes(running), 'the job ends');
    assert.equal((await call('DELETE', `/jobs/${running}`)).status, 200);

    for (const state of ['setup', 'running', 'paused'] as const) {
      const id = await createJob(service.store, state === 'paused' ? 'running' : state);
      if (state === 'paused') await service.store.setJobState(id, ['running'], 'paused');
      const res = await call('DELETE', `/jobs/${id}`);
      assert.equal(res.status, 409, state);
      assert.equal(res.body.code, 'Conflict');
      assert.match(String(res.body.message), /only a finished job can be deleted/);
      assert.ok(await service.store.getJob(id), 'the job is still there');
    }

    const retried = await createJob(service.store);
    const retry = await createJob(service.store, 'running', retried);
    const refused = await call('DELETE', `/jobs/${retried}`);
    assert.equal(refused.status, 409);
    assert.match(String(refused.body.message), new RegExp(`retried by job ${retry}`));
    await service.store.setJobState(retry, ['running'], 'complete');
    assert.equal((await call('DELETE', `/jobs/${retried}`)).status, 200);
    const after = await service.store.getJob(retry);
    assert.equal(after?.retryOf, undefined, 'the finished retry stays, without its link');
  });

  test('400 for a bad UUID, 404 for an unknown job; a change that needs api_token', async () => {
    assert.equal((await call('DELETE', '/jobs/not-a-uuid')).status, 400);
    assert.equal((await call('DELETE', `/jobs/${randomUUID()}`)).body.code, 'NotFound');
    const id = await createJob(service.store);
    tokens = { api: TOKEN, read: undefined };
    try {
      assert.equal((await call('DELETE', `/jobs/${id}`)).status, 401);
      assert.equal((await call('GET', `/jobs/${id}/objects`)).status, 200, 'a read stays open');
      const auth = { authorization: `Bearer ${TOKEN}` };
      assert.equal((await call('DELETE', `/jobs/${id}`, auth)).status, 200);
    } finally {
      tokens = { api: undefined, read: undefined };
    }
    assert.equal(managerRoutes.deleteJob.method, 'DELETE');
  });

  test('the purge takes old finished jobs only, logging each; the setting is read per turn', async () => {
    const old = await createJob(service.store);
    const oldFailed = await createJob(service.store, 'failed');
    const oldRunning = await createJob(service.store, 'running');
    const recent = await createJob(service.store);
    const oldRetried = await createJob(service.store);
    const retry = await createJob(service.store, 'running', oldRetried);
    await seedObjects(service.store, old, 'r');
    for (const id of [old, oldFailed, oldRunning, oldRetried, retry]) await age(id, 10);
    await age(recent, 2);

    const lines: string[] = [];
    const log = createLogger({
      name: 'retention-test',
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    let days: number | null = null;
    const data = new JobDataService({
      store: service.store,
      running: () => service.runner.runningIds(),
    });
    const retention = new JobRetention({ data, days: () => days, log, intervalMs: 20 });
    await retention.start();
    try {
      assert.ok(await service.store.getJob(old), 'no retention: kept forever');
      days = 5;
      await until(async () => (await service.store.getJob(old)) === undefined, 'the purge');
      await until(async () => (await service.store.getJob(oldFailed)) === undefined, 'failed');
    } finally {
      await retention.stop();
    }
    for (const id of [oldRunning, recent, oldRetried, retry]) {
      assert.ok(await service.store.getJob(id), `${id} kept`);
    }
    const purged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      purged.map((r) => [r.msg, r.job, r.objects, r.job_retention_days]),
      [
        ['purged a finished job past job_retention_days', old, 24, 5],
        ['purged a finished job past job_retention_days', oldFailed, 0, 5],
      ],
    );
  });
});

describe('the manager purges at start', () => {
  test('a finished job past job_retention_days is gone once the manager is up', async () => {
    const tdb = await createTestDatabase();
    try {
      const store = await ManagerStore.open(tdb.db);
      const old = await createJob(store);
      const young = await createJob(store);
      await tdb.db.query(`UPDATE jobs SET updated_at = now() - interval '4 days' WHERE id = $1`, [
        old,
      ]);
      const service = await startManagerService({
        db: tdb.db,
        ...startOptions,
        jobRetentionDays: () => 3,
      });
      try {
        assert.equal(await service.store.getJob(old), undefined);
        assert.ok(await service.store.getJob(young));
      } finally {
        await service.close();
      }
    } finally {
      await tdb.drop();
    }
  });
});

describe('job_retention_days', () => {
  const config = (extra: object) =>
    parseConfig({
      domain_name: 'example.com',
      shards: [{ host: '1.moray.example.com' }],
      ...extra,
    });

  test('an integer of days >= 1, absent (or null) keeps jobs forever; reloaded live', () => {
    assert.equal(config({ job_retention_days: 30 }).job_retention_days, 30);
    assert.equal(config({}).job_retention_days, null);
    assert.equal(config({ job_retention_days: null }).job_retention_days, null);
    for (const bad of [0, -1, 1.5, '7']) {
      assert.throws(
        () => config({ job_retention_days: bad }),
        (err: unknown) => err instanceof ConfigError && err.key === 'job_retention_days',
      );
    }
    assert.equal(RELOAD_CLASSES.job_retention_days, 'live');
  });
});
