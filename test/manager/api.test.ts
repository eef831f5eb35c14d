import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import type { JobContext, JobExecutor } from '../../src/manager/jobs/runner.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { assertJsonError, PROTOCOL_CASES, rawRequest } from '../support/raw-http.ts';

const log = createLogger({ name: 'manager-test', level: 'silent' });
const sharks = new StaticSharkDirectory(
  [
    { manta_storage_id: '1.stor.example.com', datacenter: 'dc1' },
    { manta_storage_id: '2.stor.example.com', datacenter: 'dc2' },
  ],
  'example.com',
);

/** An executor whose jobs run until the test finishes them (or they are cancelled). */
class ControlledExecutor {
  readonly contexts = new Map<string, JobContext>();
  readonly threads = new Map<string, number[]>();
  /** Jobs asked to wind down; those in `slow` keep running until the test finishes them. */
  readonly cancelled = new Set<string>();
  readonly slow = new Set<string>();
  private readonly finishers = new Map<string, (err?: Error) => void>();
  private readonly waiters = new Map<string, () => void>();

  readonly run: JobExecutor = (ctx) =>
    new Promise<void>((resolve, reject) => {
      this.contexts.set(ctx.job.id, ctx);
      // Before the controls: a resumed job may be told to cancel as they are registered.
      this.finishers.set(ctx.job.id, (err) => (err ? reject(err) : resolve()));
      ctx.registerControls({
        setMetadataThreads: (n) =>
          this.threads.set(ctx.job.id, [...(this.threads.get(ctx.job.id) ?? []), n]),
        cancel: () => {
          this.cancelled.add(ctx.job.id);
          if (!this.slow.has(ctx.job.id)) this.finish(ctx.job.id);
        },
      });
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      this.waiters.get(ctx.job.id)?.();
    });

  started(id: string): Promise<void> {
    if (this.contexts.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(id, resolve));
  }

  finish(id: string, err?: Error): void {
    this.finishers.get(id)?.(err);
  }
}

describe('manager HTTP API', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let exec: ControlledExecutor;
  let base: string;
  let snaplink = false;
  let staticThreads = false;

  before(async () => {
    tdb = await createTestDatabase();
    exec = new ControlledExecutor();
    service = await startManagerService({
      db: tdb.db,
      executor: exec.run,
      sharks,
      log,
      settings: () => ({
        snaplinkCleanupRequired: snaplink,
        metadataThreads: 10,
        staticMetadataThreads: staticThreads,
      }),
      cancelWaitMs: 500,
    });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await service.close();
    await tdb.drop();
  });

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      text,
      type: res.headers.get('content-type') ?? '',
      server: res.headers.get('server'),
    };
  }

  async function create(shark = '1.stor', max?: number | null): Promise<string> {
    const params =
      max === undefined ? { from_shark: shark } : { from_shark: shark, max_objects: max };
    const res = await call('POST', '/jobs', { action: 'evacuate', params });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /^[0-9a-f-]{36}\n$/);
    const id = res.text.trim();
    await exec.started(id);
    return id;
  }

  test('POST /jobs creates a running job; GET shows L status shape', async () => {
    const id = await create('1.stor', 0);
    const list = await call('GET', '/jobs');
    assert.equal(list.status, 200);
    assert.match(list.server ?? '', /^rebalancer-manager /);
    const entries = JSON.parse(list.text) as { id: string; action: string; state: string }[];
    const entry = entries.find((e) => e.id === id) as Record<string, unknown> | undefined;
    const { progress, ...rest } = entry ?? {};
    assert.deepEqual(rest, {
      id,
      action: 'Evacuate',
      state: 'Running',
      from_shark: '1.stor.example.com',
      limits: {
        objects_per_second: null,
        bytes_per_second: null,
        metadata_updates_per_second: null,
      },
    });
    // An unfinished job is listed with its progress; nothing has settled yet.
    assert.equal((progress as { objects_done?: number } | undefined)?.objects_done, 0);
    const get = await call('GET', `/jobs/${id}`);
    assert.equal(get.status, 200);
    const status = JSON.parse(get.text);
    assert.deepEqual(status.config, {
      action: 'Evacuate',
      from_shark: { manta_storage_id: '1.stor.example.com', datacenter: 'dc1' },
    });
    assert.deepEqual(status.results, {
      Unprocessed: 0,
      Assigned: 0,
      Skipped: 0,
      Error: 0,
      'Post Processing': 0,
      Complete: 0,
      Duplicates: 0,
      Total: 0,
    });
    assert.equal(status.state, 'Running');
    assert.equal(status.max_objects, null, 'max_objects 0 means unlimited');
    exec.finish(id);
    await service.runner.whenDone(id);
    assert.equal(JSON.parse((await call('GET', `/jobs/${id}`)).text).state, 'Complete');
  });

  test('results come from the counters, with L breakdowns', async () => {
    const id = await create();
    const store = service.store;
    await store.recordDiscovered(id, [
      { id: 'a', key: '/a', shard: 1, etag: 'e', object: undefined },
      { id: 'b', key: '/b', shard: 1, etag: 'e', object: undefined },
      { id: 'c', key: '/c', shard: 1, etag: 'e', object: undefined },
      { id: 'a', key: '/a2', shard: 2, etag: 'e', object: undefined },
    ]);
    await store.transition(id, [
      {
        select: { ids: ['a'] },
        from: 'unprocessed',
        to: { status: 'skipped', reason: '{http_status_code:500}' },
      },
      {
        select: { ids: ['b'] },
        from: 'unprocessed',
        to: { status: 'error', error: 'moray_update_failed' },
      },
    ]);
    const status = JSON.parse((await call('GET', `/jobs/${id}`)).text);
    assert.deepEqual(status.results, {
      Unprocessed: 1,
      Assigned: 0,
      Skipped: 1,
      Error: 1,
      'Post Processing': 0,
      Complete: 0,
      Duplicates: 1,
      Total: 4,
      error_breakdown: { moray: { update_failed: 1 } },
      skip_breakdown: { '{http_status_code:500}': 1 },
    });
    exec.finish(id);
    await service.runner.whenDone(id);
  });

  test('bad input is a 400 with a JSON body', async () => {
    const cases: unknown[] = [
      { action: 'evacuate', params: {} },
      { action: 'evacuate', params: { from_shark: '' } },
      { action: 'evacuate', params: { from_shark: '1.stor', max_objects: -1 } },
      { action: 'evacuate', params: { from_shark: '1.stor', max_objects: 'ten' } },
      { action: 'explode', params: { from_shark: '1.stor' } },
      '{not json',
    ];
    for (const body of cases) {
      const res = await call('POST', '/jobs', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.match(res.type, /application\/json/);
      const err = JSON.parse(res.text);
      assert.equal(err.code, 'BadRequest');
      assert.equal(typeof err.message, 'string');
    }
    const unknown = await call('POST', '/jobs', {
      action: 'evacuate',
      params: { from_shark: '9.stor' },
    });
    assert.equal(unknown.status, 400);
    assert.match(JSON.parse(unknown.text).message, /Unknown shark: 9\.stor/);
  });

  test('no type coercion, no silently dropped keys: each bad input is a 400 and no job', async () => {
    const before = JSON.parse((await call('GET', '/jobs')).text).length;
    const params = (extra: Record<string, unknown>) => ({
      action: 'evacuate',
      params: { from_shark: '1.stor', ...extra },
    });
    const cases: [unknown, RegExp][] = [
      // Coerced to 0 (unlimited), 16, 1000 or 1 by a default ajv.
      ...['0', '', false, 'Infinity', '0x10', '1e3', true].map((v): [unknown, RegExp] => [
        params({ max_objects: v }),
        /max_objects must be integer or null/,
      ]),
      [params({ max_objects: 1.5 }), /max_objects must be integer/],
      [params({ max_objects: [5] }), /max_objects must be integer or null/],
      [{ action: ['evacuate'], params: { from_shark: '1.stor' } }, /body\.action must be string/],
      [{ action: 'evacuate', params: { from_shark: ['1.stor'] } }, /from_shark must be string/],
      [params({ max_object: 5 }), /body\.params: unknown key "max_object"/],
      [{ ...params({}), force: true }, /body: unknown key "force"/],
      [{ action: 'evacuate' }, /missing required key "params"/],
      ['[]', /body must be object/],
      ['"evacuate"', /body must be object/],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/jobs', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.match(res.type, /application\/json/);
      const err = JSON.parse(res.text) as { code: string; message: string };
      assert.equal(err.code, 'BadRequest');
      assert.match(err.message, message, JSON.stringify(body));
    }
    assert.equal(JSON.parse((await call('GET', '/jobs')).text).length, before, 'no job created');

    const id = await create();
    const put = (body: unknown) => call('PUT', `/jobs/${id}`, body);
    for (const [body, message] of [
      [{ action: 'set_metadata_threads', params: '25' }, /body\.params must be integer/],
      [{ action: 'set_metadata_threads', params: true }, /body\.params must be integer/],
      [{ action: 'set_metadata_threads', params: [25] }, /body\.params must be integer/],
      [{ action: 'set_metadata_threads', params: 25, x: 1 }, /body: unknown key "x"/],
      [{ action: ['set_metadata_threads'], params: 25 }, /body\.action must be string/],
    ] as const) {
      const res = await put(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.match(JSON.parse(res.text).message, message);
    }
    assert.equal(exec.threads.get(id), undefined, 'no bad PUT reached the job');
    exec.finish(id);
    await service.runner.whenDone(id);
  });

  test('hostile bodies are refused cheaply: deep nesting, huge strings, oversize', async () => {
    const deep = `{"action":"evacuate","params":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const res1 = await call('POST', '/jobs', deep);
    assert.equal(res1.status, 400, res1.text);
    assert.match(JSON.parse(res1.text).message, /nests deeper than 16 levels/);
    const long = `{"action":"evacuate","params":{"from_shark":"${'a'.repeat(40_000)}"}}`;
    const res2 = await call('POST', '/jobs', long);
    assert.equal(res2.status, 400, res2.text);
    assert.match(JSON.parse(res2.text).message, /string longer than 16384 bytes/);
    const big = await call('POST', '/jobs', `[${'0,'.repeat(64 * 1024)}0]`);
    assert.equal(big.status, 413, big.text);
    assert.equal(JSON.parse(big.text).code, 'PayloadTooLarge');
    assert.equal((await call('GET', '/jobs')).status, 200);
  });

  test('errors of the HTTP layer itself are JSON too (raw sockets)', async () => {
    const port = Number(new URL(base).port);
    for (const c of PROTOCOL_CASES) {
      assertJsonError(await rawRequest(port, c.bytes), c.status, c.what);
    }
    assert.equal((await call('GET', '/jobs')).status, 200, 'still serving');
  });

  test('unknown job → 404, bad uuid → 400, on every job route', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [method, path, body] of [
      ['GET', `/jobs/${missing}`, undefined],
      ['PUT', `/jobs/${missing}`, { action: 'set_metadata_threads', params: 3 }],
      ['POST', `/jobs/${missing}/retry`, undefined],
      ['POST', `/jobs/${missing}/cancel`, undefined],
    ] as const) {
      const res = await call(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.equal(JSON.parse(res.text).code, 'NotFound');
      const bad = await call(method, path.replace(missing, 'not-a-uuid'), body);
      assert.equal(bad.status, 400, `${method} bad uuid: ${bad.text}`);
    }
    assert.equal((await call('GET', '/nowhere')).status, 404);
  });

  test('PUT tunes a running job; bad values 400; finished job 409', async () => {
    const id = await create();
    const ok = await call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params: 25 });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(exec.threads.get(id), [25]);
    assert.equal(JSON.parse((await call('GET', `/jobs/${id}`)).text).metadata_threads, 25);
    for (const params of [0, 251, -1, 'x']) {
      const res = await call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params });
      assert.equal(res.status, 400, `params ${params}`);
    }
    exec.finish(id);
    await service.runner.whenDone(id);
    const late = await call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params: 5 });
    assert.equal(late.status, 409);
    assert.equal(JSON.parse(late.text).code, 'Conflict');
  });

  test('static metadata threads (use_static_md_update_threads) cannot be tuned: 409', async () => {
    const id = await create();
    staticThreads = true;
    try {
      const res = await call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params: 25 });
      assert.equal(res.status, 409);
      assert.match(JSON.parse(res.text).message, /use_static_md_update_threads/);
      assert.equal(exec.threads.get(id), undefined);
    } finally {
      staticThreads = false;
      exec.finish(id);
      await service.runner.whenDone(id);
    }
  });

  test('a failed job records the real cause', async () => {
    const id = await create();
    exec.finish(id, new Error('discovery failed', { cause: new Error('shard 3 unreachable') }));
    await service.runner.whenDone(id);
    const status = JSON.parse((await call('GET', `/jobs/${id}`)).text);
    assert.equal(status.state, 'Failed');
    assert.match(status.error, /discovery failed: caused by shard 3 unreachable/);
  });

  test('one job per shark: a second is 409 until the first ends (also for a retry)', async () => {
    const id = await create('1.stor');
    const again = await call('POST', '/jobs', {
      action: 'evacuate',
      params: { from_shark: '1.stor.example.com' },
    });
    assert.equal(again.status, 409, again.text);
    assert.equal(JSON.parse(again.text).code, 'Conflict');
    assert.match(JSON.parse(again.text).message, new RegExp(`${id} is already evacuating`));
    exec.finish(id);
    await service.runner.whenDone(id);
    const next = await create('1.stor');
    assert.equal((await call('POST', `/jobs/${id}/retry`)).status, 409, 'next runs on it');
    exec.finish(next);
    await service.runner.whenDone(next);
  });

  test('GET /jobs/:uuid/duplicates pages; bad queries are 400', async () => {
    const id = await create();
    const page = await call('GET', `/jobs/${id}/duplicates`);
    assert.equal(page.status, 200, page.text);
    assert.deepEqual(JSON.parse(page.text), { duplicates: [] });
    for (const query of ['limit=0', 'limit=ten', 'limit=10001', 'after=zz', 'other=1']) {
      const bad = await call('GET', `/jobs/${id}/duplicates?${query}`);
      assert.equal(bad.status, 400, `${query}: ${bad.text}`);
      assert.equal(JSON.parse(bad.text).code, 'BadRequest');
    }
    assert.equal((await call('GET', `/jobs/${randomUUID()}/duplicates`)).status, 404);
    exec.finish(id);
    await service.runner.whenDone(id);
  });

  test('retry: 409 while running, then a new job over the previous one', async () => {
    const id = await create();
    assert.equal((await call('POST', `/jobs/${id}/retry`)).status, 409);
    exec.finish(id);
    await service.runner.whenDone(id);
    const res = await call('POST', `/jobs/${id}/retry`);
    assert.equal(res.status, 200, res.text);
    const retry = res.text.trim();
    await exec.started(retry);
    assert.equal(exec.contexts.get(retry)?.job.retryOf, id);
    const status = JSON.parse((await call('GET', `/jobs/${retry}`)).text);
    assert.equal(status.retry_of, id);
    assert.equal(status.config.from_shark.manta_storage_id, '1.stor.example.com');
    exec.finish(retry);
    await service.runner.whenDone(retry);
  });

  test('cancel winds a running job down gracefully; a second cancel is 409', async () => {
    const id = await create();
    const res = await call('POST', `/jobs/${id}/cancel`);
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).state, 'Cancelled');
    assert.ok(exec.cancelled.has(id));
    // Wound down, not aborted: in-flight work was allowed to finish.
    assert.equal(exec.contexts.get(id)?.signal.aborted, false);
    assert.equal((await call('POST', `/jobs/${id}/cancel`)).status, 409);
  });

  test('a cancel answers while the job still winds down; it ends Cancelled', async () => {
    const id = await create();
    exec.slow.add(id);
    const res = await call('POST', `/jobs/${id}/cancel`);
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).state, 'Running');
    exec.finish(id);
    await service.runner.whenDone(id);
    assert.equal(JSON.parse((await call('GET', `/jobs/${id}`)).text).state, 'Cancelled');
  });

  test('snaplink_cleanup_required refuses new jobs', async () => {
    snaplink = true;
    try {
      const res = await call('POST', '/jobs', {
        action: 'evacuate',
        params: { from_shark: '1.stor' },
      });
      assert.equal(res.status, 500);
      assert.equal(JSON.parse(res.text).code, 'SnaplinkCleanupRequired');
    } finally {
      snaplink = false;
    }
  });

  test('metrics use L names', async () => {
    const res = await call('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /request_count\{[^}]*req="evacuate"/);
    assert.match(res.text, /request_count\{[^}]*req="total"/);
  });

  test("a running job's progress is a gauge per status and tier, gone when it ends", async () => {
    const id = await create();
    await service.store.recordDiscovered(id, [
      { id: 'p1', key: '/a/stor/p1', shard: 1, etag: 'e', object: undefined },
      { id: 'p2', key: '/a/stor/p2', shard: 1, etag: 'e', object: undefined },
      { id: 'p3', key: 'b/p3', shard: 1, etag: 'e', object: undefined, tier: 'buckets' },
    ]);
    const during = (await call('GET', '/metrics')).text;
    const gauge = (tier: string, n: number) =>
      new RegExp(
        `rebalancer_job_objects\\{job="${id}",status="unprocessed",tier="${tier}"[^}]*\\} ${n}\n`,
      );
    assert.match(during, gauge('v1', 2));
    assert.match(during, gauge('v2', 1));
    exec.finish(id);
    await service.runner.whenDone(id);
    assert.doesNotMatch((await call('GET', '/metrics')).text, new RegExp(`job="${id}"`));
  });
});

describe('job runner restart', () => {
  test('a job left running is resumed by a new runner over the same database', async () => {
    const tdb = await createTestDatabase();
    try {
      const exec1 = new ControlledExecutor();
      const settings = () => ({ snaplinkCleanupRequired: false, metadataThreads: 10 });
      const first = await startManagerService({
        db: tdb.db,
        executor: exec1.run,
        sharks,
        log,
        settings,
      });
      const job = await first.jobs.create({ action: 'evacuate', params: { from_shark: '2.stor' } });
      await exec1.started(job.id);
      await first.close(); // shutdown: the job stays running, to be resumed
      assert.equal((await first.store.getJob(job.id))?.state, 'running');

      const exec2 = new ControlledExecutor();
      const second = await startManagerService({
        db: tdb.db,
        executor: exec2.run,
        sharks,
        log,
        settings,
      });
      assert.deepEqual(second.resumed, [job.id]);
      await exec2.started(job.id);
      exec2.finish(job.id);
      await second.runner.whenDone(job.id);
      assert.equal((await second.store.getJob(job.id))?.state, 'complete');
      assert.ok(!exec2.cancelled.has(job.id), 'a job not cancelled is resumed in full');
      await second.close();
    } finally {
      await tdb.drop();
    }
  });

  test('a job cancelled while it winds down stays cancelled across a restart', async () => {
    const tdb = await createTestDatabase();
    try {
      const exec1 = new ControlledExecutor();
      const settings = () => ({ snaplinkCleanupRequired: false, metadataThreads: 10 });
      const options = { db: tdb.db, sharks, log, settings, cancelWaitMs: 50 };
      const first = await startManagerService({ ...options, executor: exec1.run });
      const job = await first.jobs.create({ action: 'evacuate', params: { from_shark: '2.stor' } });
      await exec1.started(job.id);
      exec1.slow.add(job.id);
      assert.equal((await first.jobs.cancel(job.id)).state, 'running');
      await first.close(); // stopped while winding down
      const stored = await first.store.getJob(job.id);
      assert.equal(stored?.state, 'running');
      assert.ok(stored?.cancelRequestedAt instanceof Date);

      const exec2 = new ControlledExecutor();
      const second = await startManagerService({ ...options, executor: exec2.run });
      assert.deepEqual(second.resumed, [job.id]);
      await second.runner.whenDone(job.id);
      assert.ok(exec2.cancelled.has(job.id), 'the resumed run was told to wind down');
      const ended = await second.store.getJob(job.id);
      assert.equal(ended?.state, 'cancelled');
      assert.equal(ended?.error, 'cancelled by the operator');
      await second.close();
    } finally {
      await tdb.drop();
    }
  });
});
