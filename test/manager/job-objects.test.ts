/**
 * `GET /jobs/{uuid}/objects` (issue 19) on a real listening manager over a real store: pages by
 * id that cover every object once, each filter (status, skip reason, error code, key prefix)
 * and their combinations, each answer checked against its declared schema; 400 for a bad UUID
 * or query (an unknown status or reason named), 404 for an unknown job.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import { JOB_OBJECT_STATUSES, type JobObjectList } from '../../src/api/job-objects.ts';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import { createLogger } from '../../src/log/index.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import { OBJECT_STATUSES } from '../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  blockingExecutor,
  createJob,
  DEST,
  EVACUATED,
  type SeededObject,
  seedObjects,
} from './job-data-fixture.ts';

const log = createLogger({ name: 'job-objects-test', level: 'silent' });
const check = Compile(managerRoutes.listJobObjects.response[200]);

describe('GET /jobs/{uuid}/objects', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let base: string;
  let job: string;
  let seeded: SeededObject[];

  before(async () => {
    tdb = await createTestDatabase();
    service = await startManagerService({
      db: tdb.db,
      executor: blockingExecutor,
      sharks: new StaticSharkDirectory([EVACUATED], 'example.com'),
      log,
      settings: () => ({ snaplinkCleanupRequired: false, metadataThreads: 1 }),
    });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
    job = await createJob(service.store, 'running');
    seeded = await seedObjects(service.store, job);
    // Another job's objects never show.
    await seedObjects(service.store, await createJob(service.store), 'o');
  });
  after(async () => {
    await service.close();
    await tdb.drop();
  });

  async function get(path: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: await res.json() };
  }

  async function page(query: string): Promise<JobObjectList> {
    const res = await get(`/jobs/${job}/objects${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(check.Check(res.body), JSON.stringify(res.body));
    return res.body as JobObjectList;
  }

  /** Every page of `query` followed to its end, with `limit` per page. */
  async function all(query: Record<string, string>, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const q = new URLSearchParams({
        ...query,
        limit: String(limit),
        ...(after === null ? {} : { after }),
      });
      const p = await page(`?${q}`);
      assert.ok(p.objects.length <= limit);
      ids.push(...p.objects.map((o) => o.id));
      if (p.next === null) return ids;
      assert.equal(p.objects.length, limit, 'only a full page has a next');
      assert.equal(p.next, p.objects.at(-1)?.id);
      after = p.next;
    }
    throw new Error('paging never ended');
  }

  const expected = (pick: (o: SeededObject) => boolean) => seeded.filter(pick).map((o) => o.id);

  test('the wire statuses are the store’s', () => {
    assert.deepEqual([...JOB_OBJECT_STATUSES], [...OBJECT_STATUSES]);
  });

  test('pages by id cover every object exactly once, at any page size', async () => {
    for (const limit of [1, 5, 23, 24, 1000]) {
      assert.deepEqual(
        await all({}, limit),
        expected(() => true),
        `limit ${limit}`,
      );
    }
    const first = await page('');
    assert.equal(first.objects.length, 24, 'default page 100');
    assert.equal(first.next, null);
    const tail = await page('?after=o-21');
    assert.deepEqual(
      tail.objects.map((o) => o.id),
      ['o-22', 'o-23'],
    );
  });

  test('each object as the store holds it', async () => {
    const byId = new Map((await page('?limit=1000')).objects.map((o) => [o.id, o]));
    for (const s of seeded) {
      const o = byId.get(s.id);
      assert.ok(o, s.id);
      assert.deepEqual(
        { key: o.key, status: o.status, reason: o.reason, tier: o.tier, shard: o.shard },
        { key: s.key, status: s.status, reason: s.reason, tier: s.tier, shard: 1 },
      );
      assert.ok(!Number.isNaN(Date.parse(o.updated_at)));
    }
    assert.equal(byId.get('o-07')?.content_length, 107);
    assert.equal(byId.get('o-07')?.detail, null);
    assert.equal(byId.get('o-13')?.detail, 'etag conflict');
    const failed = byId.get('o-15');
    assert.equal(failed?.content_length, null, 'no record: no size');
    assert.equal(failed?.detail, 'no contentLength');
    const assigned = byId.get('o-17');
    assert.equal(assigned?.dest_shark, DEST);
    assert.match(assigned?.assignment_id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(byId.get('o-01')?.dest_shark, null);
    assert.equal(byId.get('o-01')?.assignment_id, null);
  });

  test('filters: status, skip reason, error code, key prefix, and together', async () => {
    for (const status of OBJECT_STATUSES) {
      assert.deepEqual(
        await all({ status }, 2),
        expected((o) => o.status === status),
        status,
      );
    }
    assert.deepEqual(
      await all({ reason: 'metadata_etag_mismatch' }, 2),
      expected((o) => o.reason === 'metadata_etag_mismatch'),
    );
    assert.deepEqual(await all({ reason: '{http_status_code:503}' }, 10), ['o-11']);
    assert.deepEqual(await all({ reason: 'moray_update_failed' }, 10), ['o-12', 'o-13', 'o-14']);
    assert.deepEqual(await all({ status: 'error', reason: 'bad_manta_object' }, 10), ['o-15']);
    assert.deepEqual(await all({ reason: 'md5_mismatch' }, 10), [], 'a known reason, none');
    assert.deepEqual(
      await all({ key_prefix: '/acct/logs/' }, 3),
      expected((o) => o.key.startsWith('/acct/logs/')),
    );
    // LIKE's wildcards are plain characters in a prefix.
    assert.deepEqual(await all({ key_prefix: '/acct/%' }, 10), []);
    assert.deepEqual(await all({ key_prefix: '/acct/stor/o-1', status: 'assigned' }, 10), [
      'o-16',
      'o-17',
      'o-18',
    ]);
    assert.deepEqual(
      await all({ key_prefix: '/acct/logs/o-0', reason: 'metadata_etag_mismatch' }, 1),
      ['o-06', 'o-07', 'o-08', 'o-09'],
    );
  });

  async function assertError(path: string, status: number, code: string, message?: RegExp) {
    const res = await get(path);
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    const body = res.body as { code: string; message: string };
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
    assert.equal(body.code, code, path);
    if (message) assert.match(body.message, message, path);
  }

  test('400 for a bad UUID or query, naming what is wrong; 404 for an unknown job', async () => {
    const at = `/jobs/${job}/objects`;
    await assertError('/jobs/not-a-uuid/objects', 400, 'BadRequest', /UUID/);
    await assertError(`${at}?status=done`, 400, 'BadRequest', /Unknown status "done".*complete/);
    await assertError(`${at}?status=Complete`, 400, 'BadRequest', /"Complete"/);
    await assertError(`${at}?reason=oops`, 400, 'BadRequest', /Unknown reason "oops"/);
    await assertError(
      `${at}?status=complete&reason=md5_mismatch`,
      400,
      'BadRequest',
      /skip reason.*skipped, not complete/,
    );
    await assertError(`${at}?status=skipped&reason=moray_update_failed`, 400, 'BadRequest');
    for (const limit of ['0', '1001', 'ten', '-1', '']) {
      await assertError(`${at}?limit=${limit}`, 400, 'BadRequest', /limit/);
    }
    await assertError(`${at}?after=`, 400, 'BadRequest', /after/);
    await assertError(`${at}?sort=key`, 400, 'BadRequest', /unknown key "sort"/);
    await assertError(`/jobs/${randomUUID()}/objects`, 404, 'NotFound');
    await assertError(`/jobs/${randomUUID()}/objects?status=done`, 400, 'BadRequest');
  });
});
