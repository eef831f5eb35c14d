/**
 * The audit through the manager's HTTP API, its jobs run by the real audit executor over a real
 * shard and makos: `POST /jobs {"action": "audit"}`, the report in `GET /jobs/{id}`, `GET
 * /sharks/{id}/audit` (404 before any, paged), bad input refused with a code, and an audit
 * that neither blocks nor counts as an evacuation of its shark, nor is retried or paused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuditReport } from '../../../src/api/audit.ts';
import type { JobStatus } from '../../../src/api/manager.ts';
import { Gate } from '../../../src/async/index.ts';
import type { CopyChecker } from '../../../src/manager/audit/copy-check.ts';
import { auditExecutor } from '../../../src/manager/audit/executor.ts';
import type { JobExecutor } from '../../../src/manager/jobs/runner.ts';
import { type ManagerService, startManagerService } from '../../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../../src/manager/sharks.ts';
import { AuditFixture, DOMAIN, log, shark } from './fixture.ts';

describe('audit: the HTTP API', { timeout: 120_000 }, () => {
  let f: AuditFixture;
  let service: ManagerService;
  let base: string;
  /** Copy checks wait here while it is closed (an audit held running). */
  const hold = new Gate(true);
  before(async () => {
    f = await AuditFixture.start(3);
    const checker = f.checker();
    const held: CopyChecker = {
      async check(probe, deep, signal) {
        await hold.wait(signal);
        return checker.check(probe, deep, signal);
      },
      close: () => checker.close(),
    };
    const audit = auditExecutor(f.deps(held));
    // Evacuations here run until cancelled: only their bookkeeping matters.
    const executor: JobExecutor = (ctx) =>
      ctx.job.action === 'audit'
        ? audit(ctx)
        : new Promise<void>((resolve) => ctx.registerControls({ cancel: resolve }));
    service = await startManagerService({
      db: f.store.db,
      executor,
      sharks: new StaticSharkDirectory(
        [1, 2, 3].map((n) => ({ manta_storage_id: shark(n), datacenter: 'dc1' })),
        DOMAIN,
      ),
      log,
      settings: () => ({ snaplinkCleanupRequired: false, metadataThreads: 1 }),
      cancelWaitMs: 2000,
    });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await service.close();
    await f.stop();
  });

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = (): { code: string; message: string } => JSON.parse(text);
    return { status: res.status, text, json };
  }

  async function createAudit(params: Record<string, unknown>): Promise<string> {
    const res = await call('POST', '/jobs', { action: 'audit', params });
    assert.equal(res.status, 200, res.text);
    return res.text.trim();
  }

  async function finished(id: string): Promise<JobStatus> {
    for (;;) {
      const status = JSON.parse((await call('GET', `/jobs/${id}`)).text) as JobStatus;
      if (['Complete', 'Failed', 'Cancelled'].includes(status.state)) return status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('no audit yet: GET /sharks/{id}/audit is a 404 with a JSON body', async () => {
    const res = await call('GET', `/sharks/${shark(1)}/audit`);
    assert.equal(res.status, 404);
    assert.equal(res.json().code, 'NotFound');
    assert.match(res.json().message, /No audit of shark/);
  });

  test('bad input: unknown shark, bad params, bad queries', async () => {
    const unknown = await call('POST', '/jobs', { action: 'audit', params: { shark: '9.stor' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json().code, 'BadRequest');
    assert.match(unknown.json().message, /Unknown shark/);
    for (const params of [
      {},
      { shark: '' },
      { shark: 1 },
      { shark: '1.stor', deep: 'yes' },
      { shark: '1.stor', from_shark: '1.stor' },
    ]) {
      const res = await call('POST', '/jobs', { action: 'audit', params });
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal(res.json().code, 'BadRequest');
    }
    assert.equal((await call('POST', '/jobs', { action: 'audit' })).status, 400);
    for (const query of ['limit=0', 'limit=1001', 'limit=x', 'job=nope', 'after=', 'other=1']) {
      const res = await call('GET', `/sharks/1.stor/audit?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.json().code, 'BadRequest');
    }
    const none = await call('GET', `/sharks/${shark(1)}/audit?job=${randomUUID()}`);
    assert.equal(none.status, 404);
  });

  test('an audit job: its report in the job status and at /sharks/{id}/audit, paged', async () => {
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push((await f.put({ sharks: [1] })).key);
    await f.put({ sharks: [1, 2] });
    const id = await createAudit({ shark: '1.stor' });
    const status = await finished(id);
    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.equal(status.config.action, 'Audit');
    assert.equal(status.config.from_shark.manta_storage_id, shark(1));
    assert.equal(status.progress, undefined, 'an audit reports its counts, not a progress');
    assert.equal(status.audit?.verdict, 'unsafe');
    assert.equal(status.audit?.deep, false);
    assert.deepEqual(status.audit?.scanned, { objects: 4, v1: 4, v2: 0 });
    assert.equal(status.audit?.unsafe.by_reason.only_copy, 3);

    const report = JSON.parse((await call('GET', '/sharks/1.stor/audit')).text) as AuditReport;
    assert.equal(report.job_id, id);
    assert.deepEqual(
      report.unsafe_objects.map((o) => o.key),
      [...keys].sort(),
    );
    assert.equal(report.next, undefined);
    const paged: string[] = [];
    let after = '';
    for (;;) {
      const page = JSON.parse(
        (await call('GET', `/sharks/${shark(1)}/audit?job=${id}&limit=1${after}`)).text,
      ) as AuditReport;
      paged.push(...page.unsafe_objects.map((o) => o.key));
      if (page.next === undefined) break;
      after = `&after=${encodeURIComponent(page.next)}`;
    }
    assert.deepEqual(paged, [...keys].sort());
    const list = JSON.parse((await call('GET', '/jobs')).text) as { id: string; action: string }[];
    assert.equal(list.find((j) => j.id === id)?.action, 'Audit');
    // Not the audit of another shark.
    assert.equal((await call('GET', `/sharks/${shark(2)}/audit?job=${id}`)).status, 404);
  });

  test('an audit is no evacuation: no 409 either way, never "evacuating"; not retried or paused', async () => {
    hold.close();
    try {
      await f.put({ sharks: [2, 3] });
      const audit = await createAudit({ shark: shark(2), deep: true });
      const evacuation = await call('POST', '/jobs', {
        action: 'evacuate',
        params: { from_shark: shark(2) },
      });
      assert.equal(evacuation.status, 200, evacuation.text);
      const second = await createAudit({ shark: shark(2) });
      assert.deepEqual([...service.runner.evacuating()], [shark(2)]);
      let answer = await call('GET', `/sharks/${shark(2)}/audit`);
      while (answer.status === 404) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        answer = await call('GET', `/sharks/${shark(2)}/audit`);
      }
      const running = JSON.parse(answer.text);
      assert.equal(running.state, 'running');
      assert.equal(running.verdict, null);
      assert.equal(running.finished_at, null);
      assert.equal((await call('POST', `/jobs/${audit}/pause`)).status, 409);
      const update = await call('PUT', `/jobs/${audit}`, {
        action: 'set_limits',
        params: { objects_per_second: 5 },
      });
      assert.equal(update.status, 409);
      const cancelled = await call('POST', `/jobs/${second}/cancel`);
      assert.equal(cancelled.status, 200, cancelled.text);
      hold.open();
      assert.equal((await finished(second)).state, 'Cancelled');
      assert.equal((await finished(second)).audit?.verdict, null);
      assert.equal((await finished(audit)).audit?.deep, true);
      const retry = await call('POST', `/jobs/${audit}/retry`);
      assert.equal(retry.status, 409);
      assert.equal(retry.json().code, 'AuditNotRetryable');
      await call('POST', `/jobs/${evacuation.text.trim()}/cancel`);
    } finally {
      hold.open();
    }
  });
});
