/**
 * The console's read routes (issue 17) on a real listening manager over a real store: each
 * answer checked against its declared schema, its content, 404 for an unknown job, 400 for a
 * malformed UUID or a query outside its bounds, 503 for `GET /sharks` without storinfo, and
 * each request counted in `request_count`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import { createLogger } from '../../src/log/index.ts';
import { buildManagerApp } from '../../src/manager/http/server.ts';
import type { JobExecutor } from '../../src/manager/jobs/runner.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import type { StorinfoNode } from '../../src/storinfo/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { idsOf, mantaObject, until } from './jobs/evacuate/helpers.ts';

const log = createLogger({ name: 'console-routes-test', level: 'silent' });
const EVACUATED = '1.stor.example.com';
const sharks = new StaticSharkDirectory(
  [
    { manta_storage_id: EVACUATED, datacenter: 'dc1' },
    { manta_storage_id: '2.stor.example.com', datacenter: 'dc2' },
  ],
  'example.com',
);
const nodes: StorinfoNode[] = [
  {
    manta_storage_id: '2.stor.example.com',
    datacenter: 'dc2',
    availableMB: 900,
    percentUsed: 10,
    filesystem: '/manta',
    timestamp: 1,
  },
  {
    manta_storage_id: EVACUATED,
    datacenter: 'dc1',
    availableMB: 500,
    percentUsed: 50,
    filesystem: '/manta',
    timestamp: 2,
  },
];

/** Jobs run until the test's service closes (or they are cancelled). */
const executor: JobExecutor = (ctx) =>
  new Promise<void>((resolve, reject) => {
    ctx.registerControls({ cancel: () => resolve() });
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });

/** The declared 200 schema of a route, compiled. */
const answerOf = (route: { response: { 200: TSchema } }) => Compile(route.response[200]);

describe('console read routes', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let base: string;
  let job: string;

  before(async () => {
    tdb = await createTestDatabase();
    service = await startManagerService({
      db: tdb.db,
      executor,
      sharks,
      log,
      settings: () => ({
        snaplinkCleanupRequired: false,
        metadataThreads: 2,
        staticMetadataThreads: false,
      }),
      cancelWaitMs: 500,
      historyIntervalMs: 50,
      fleet: {
        snapshot: () => ({ nodes, fetchedAt: Date.parse('2025-04-01T00:00:00Z'), version: 3 }),
        placement: () => ({
          maxFillPercentage: 90,
          blockedSharks: [],
          blockedDatacenters: ['dc9'],
        }),
      },
    });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
    const created = await fetch(`${base}/jobs`, {
      method: 'POST',
      body: JSON.stringify({ action: 'evacuate', params: { from_shark: '1.stor' } }),
    });
    assert.equal(created.status, 200);
    job = (await created.text()).trim();
    await until(() => service.runner.runningIds().includes(job), 'the job runs');
  });
  after(async () => {
    await service.close();
    await tdb.drop();
  });

  async function get(path: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: await res.json() };
  }

  async function assertError(path: string, status: number, code: string): Promise<void> {
    const res = await get(path);
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    const body = res.body as { code: unknown; message: unknown };
    assert.equal(body.code, code, path);
    assert.equal(typeof body.message, 'string');
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
  }

  test('GET /sharks: the fleet, the evacuated shark marked with its job', async () => {
    const res = await get('/sharks');
    assert.equal(res.status, 200);
    assert.ok(answerOf(managerRoutes.listSharks).Check(res.body), JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      fetched_at: '2025-04-01T00:00:00.000Z',
      max_fill_percentage: 90,
      sharks: [
        {
          manta_storage_id: EVACUATED,
          datacenter: 'dc1',
          percent_used: 50,
          available_mb: 500,
          timestamp: 2,
          evacuating: job,
          blocked: false,
        },
        {
          manta_storage_id: '2.stor.example.com',
          datacenter: 'dc2',
          percent_used: 10,
          available_mb: 900,
          timestamp: 1,
          evacuating: null,
          blocked: false,
        },
      ],
      datacenters: [
        // The evacuated shark gives placement nothing.
        { datacenter: 'dc1', sharks: 1, available_mb: 500, capacity_left_mb: 0 },
        // 1000 MiB in all, 900 under the 90% limit, 100 used: 800.
        { datacenter: 'dc2', sharks: 1, available_mb: 900, capacity_left_mb: 800 },
      ],
    });
  });

  test('GET /sharks without storinfo: 503', async () => {
    const app = await buildManagerApp({
      jobs: service.jobs,
      metrics: service.metrics,
      log,
      store: service.store,
    });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${url}/sharks`);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { code: string }).code, 'ServiceUnavailable');
    } finally {
      await app.close();
    }
  });

  test('GET /jobs/:uuid/events: oldest first, paged by after and limit', async () => {
    const { store } = service;
    await store.recordJobEvent(job, 'paused', { by: 'test' });
    await store.recordJobEvent(job, 'resumed');
    const check = answerOf(managerRoutes.listJobEvents);
    const all = await get(`/jobs/${job}/events`);
    assert.equal(all.status, 200);
    assert.ok(check.Check(all.body), JSON.stringify(all.body));
    const events = (
      all.body as { events: { seq: number; at: string; kind: string; detail: object }[] }
    ).events;
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(events[0]?.kind, 'created');
    assert.deepEqual(
      events.slice(-2).map((e) => [e.kind, e.detail]),
      [
        ['paused', { by: 'test' }],
        ['resumed', {}],
      ],
    );
    assert.ok(events.every((e) => new Date(e.at).toISOString() === e.at));
    const page = await get(`/jobs/${job}/events?after=${seqs[0]}&limit=1`);
    assert.equal(page.status, 200);
    assert.deepEqual((page.body as { events: unknown[] }).events, [events[1]]);
    const none = await get(`/jobs/${job}/events?after=${seqs.at(-1)}`);
    assert.deepEqual(none.body, { events: [] });
  });

  test('GET /jobs/:uuid/events: 404 unknown job, 400 malformed uuid or query', async () => {
    await assertError(`/jobs/${randomUUID()}/events`, 404, 'NotFound');
    await assertError('/jobs/not-a-uuid/events', 400, 'BadRequest');
    for (const q of ['limit=0', 'limit=1001', 'limit=ten', 'after=-1', 'after=01', 'before=3']) {
      await assertError(`/jobs/${job}/events?${q}`, 400, 'BadRequest');
    }
  });

  test('GET /jobs/:uuid/history: samples the tracker kept while the job runs', async () => {
    // The service's tracker samples every second and keeps one every 50 ms: one per round.
    await until(
      async () => (await service.store.progressSamples(job, 10)).length >= 2,
      'two samples',
      10_000,
    );
    const res = await get(`/jobs/${job}/history?points=2`);
    assert.equal(res.status, 200);
    assert.ok(answerOf(managerRoutes.getJobHistory).Check(res.body), JSON.stringify(res.body));
    const samples = (
      res.body as { samples: { at: string; objects_done: number; objects_per_second: number }[] }
    ).samples;
    assert.equal(samples.length, 2);
    assert.ok(samples[0]!.at < samples[1]!.at);
    assert.deepEqual(
      samples.map((s) => [s.objects_done, s.objects_per_second]),
      [
        [0, 0],
        [0, 0],
      ],
    );
    const byDefault = await get(`/jobs/${job}/history`);
    assert.ok((byDefault.body as { samples: unknown[] }).samples.length >= 2);
  });

  test('GET /jobs/:uuid/history: 404 unknown job, 400 malformed uuid or points', async () => {
    await assertError(`/jobs/${randomUUID()}/history`, 404, 'NotFound');
    await assertError('/jobs/xyz/history', 400, 'BadRequest');
    for (const q of ['points=1', 'points=1001', 'points=0', 'points=2.5', 'limit=3']) {
      await assertError(`/jobs/${job}/history?${q}`, 400, 'BadRequest');
    }
  });

  test("GET /jobs/:uuid/activity: the job's agents and the shared metadata budgets", async () => {
    const { store } = service;
    const objects = Array.from({ length: 3 }, () => mantaObject(randomUUID(), { size: 10 }));
    await store.recordDiscovered(job, objects);
    const id = randomUUID();
    assert.ok(
      await store.createAssignment(job, {
        id,
        destShark: '2.stor.example.com',
        destDatacenter: 'dc2',
        totalBytes: 30,
        objectIds: idsOf(objects),
      }),
    );
    assert.ok(await store.setAssignmentState(id, ['init'], 'assigned'));
    service.metrics.trackMetadataBudgets(() => [
      { tier: 'v2', shard: 1, budget: null, perSecond: 0 },
      { tier: 'v1', shard: 2, budget: 50, perSecond: 12.5 },
    ]);
    const res = await get(`/jobs/${job}/activity`);
    assert.equal(res.status, 200);
    assert.ok(answerOf(managerRoutes.getJobActivity).Check(res.body), JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      agents: [
        {
          manta_storage_id: '2.stor.example.com',
          datacenter: 'dc2',
          assignments_queued: 0,
          assignments_on_agent: 1,
          tasks_on_agent: 3,
          objects_done: 0,
          objects_per_second: 0,
          bytes_per_second: 0,
        },
      ],
      metadata_shards: [
        { tier: 'v1', shard: 2, updates_per_second: 12.5, budget: 50 },
        { tier: 'v2', shard: 1, updates_per_second: 0, budget: null },
      ],
    });
    // The agent finishes it: done, and in the last minute's rates (3 tasks, 30 bytes / 60 s).
    assert.ok(await store.setAssignmentState(id, ['assigned'], 'agent_complete'));
    const [agent] = (
      (await get(`/jobs/${job}/activity`)).body as { agents: Record<string, number>[] }
    ).agents;
    assert.equal(agent?.assignments_on_agent, 0);
    assert.equal(agent?.objects_done, 3);
    assert.equal(agent?.objects_per_second, 3 / 60);
    assert.equal(agent?.bytes_per_second, 30 / 60);
  });

  test('GET /jobs/:uuid/activity: 404 unknown job, 400 malformed uuid', async () => {
    await assertError(`/jobs/${randomUUID()}/activity`, 404, 'NotFound');
    await assertError('/jobs/1234/activity', 400, 'BadRequest');
  });

  test('each console route is counted in request_count', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const req of ['list_sharks', 'list_job_events', 'get_job_history', 'get_job_activity']) {
      assert.match(text, new RegExp(`^request_count\\{[^}]*req="${req}"[^}]*\\} [1-9]`, 'm'), req);
    }
  });
});
