/**
 * auditShark over a real Moray shard (Fast RPC) and real makos: the verdict, counts and unsafe
 * list of a shark with unsafe objects, then yes once they are fixed; keys that evacuations
 * exclude still audited; counts exact across a stop mid-scan and a resumed run; a cancelled
 * audit has no verdict; a shark no mako of which answers is never called safe.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditShark } from '../../../src/manager/audit/audit.ts';
import type { CopyChecker } from '../../../src/manager/audit/copy-check.ts';
import { auditDeps } from '../../../src/manager/audit/deps.ts';
import { parseConfig } from '../../../src/manager/config.ts';
import { JobCancelledError, ShutdownError } from '../../../src/manager/jobs/runner.ts';
import { AuditFixture, DOMAIN, log, type PutObject, shark } from './fixture.ts';

const node = (n: number) => ({ manta_storage_id: shark(n), datacenter: 'dc1' });

describe('audit: auditShark against a real shard and makos', { timeout: 180_000 }, () => {
  let f: AuditFixture;
  before(async () => {
    f = await AuditFixture.start(4);
  });
  after(async () => {
    await f.stop();
  });

  const audit = async (
    n: number,
    deps = f.deps(),
    options: { deep?: boolean; signal?: AbortSignal } = {},
  ) => {
    const jobId = await f.auditJob(n, options.deep);
    const report = await auditShark(deps, {
      jobId,
      shark: node(n),
      deep: options.deep === true,
      signal: options.signal ?? new AbortController().signal,
      log,
      store: f.store,
    });
    return { jobId, report };
  };

  test('unsafe objects listed and counted; fixed, the verdict is yes', async () => {
    const safe = await Promise.all([1, 2, 3].map(() => f.put({ sharks: [1, 4] })));
    const only = await f.put({ sharks: [1] });
    const gone = await f.put({ sharks: [4, 1], without: [4] });
    // The real environment's deps: a key evacuations exclude (/stor/logs/) still names it.
    const config = parseConfig({
      domain_name: DOMAIN,
      shards: [{ host: `1.moray.${DOMAIN}` }],
      host_aliases: f.aliases,
    });
    const deps = auditDeps({
      shards: () => [{ shard: 1, mode: 'moray', client: f.client }],
      config: () => config,
      log,
    });
    const logged = await f.put({ sharks: [1], dir: 'logs/2024/01' });
    try {
      const { report } = await audit(1, deps);
      assert.equal(report.state, 'complete');
      assert.equal(report.verdict, 'unsafe');
      assert.deepEqual(report.scanned, { objects: 6, v1: 6, v2: 0 });
      assert.equal(report.safe, safe.length);
      assert.deepEqual(report.unsafe, {
        total: 3,
        by_reason: {
          only_copy: 2,
          other_copies_missing: 1,
          other_copies_unverified: 0,
          unreadable_record: 0,
        },
      });
      assert.deepEqual(
        report.unsafe_objects.map((o) => [o.key, o.tier, o.shard, o.object_id, o.reason]),
        [
          [only.key, 'v1', 1, only.objectId, 'only_copy'],
          [gone.key, 'v1', 1, gone.objectId, 'other_copies_missing'],
          [logged.key, 'v1', 1, logged.objectId, 'only_copy'],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      assert.ok(report.finished_at !== null);
      assert.equal((await f.store.latestAuditOf(shark(1)))?.verdict, 'unsafe');

      // Fixed: another copy of each, on shark 4 (a file, and the record naming it).
      await copyTo(4, only);
      await f.setSharks(only, [1, 4]);
      await copyTo(4, gone);
      await f.deleteRecord(logged);
      const again = await audit(1, deps);
      assert.equal(again.report.verdict, 'safe', JSON.stringify(again.report));
      assert.equal(again.report.unsafe.total, 0);
      assert.equal(again.report.safe, 5);
      assert.equal((await f.store.latestAuditOf(shark(1)))?.jobId, again.jobId);
    } finally {
      await deps.copies.close();
    }
  });

  async function copyTo(n: number, o: PutObject): Promise<void> {
    const file = f.file(n, o);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, o.content);
  }

  test('stopped mid-scan and run again: every object counted exactly once', async () => {
    const objects: { o: PutObject; expect: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = i % 3;
      const o =
        kind === 0
          ? await f.put({ sharks: [2, 3], size: 64 })
          : kind === 1
            ? await f.put({ sharks: [2], size: 64 })
            : await f.put({ sharks: [3, 2], without: [3], size: 64 });
      objects.push({ o, expect: ['safe', 'only_copy', 'other_copies_missing'][kind] as string });
    }
    const checker = f.checker();
    let checks = 0;
    const stop = new AbortController();
    const counting: CopyChecker = {
      async check(probe, deep, signal) {
        if (++checks === 25) stop.abort(new ShutdownError('the manager is shutting down'));
        return checker.check(probe, deep, signal);
      },
      close: () => checker.close(),
    };
    const jobId = await f.auditJob(2);
    const request = { jobId, shark: node(2), deep: false, log, store: f.store };
    // Windows of 5 row ids: a cursor every few objects.
    await assert.rejects(
      auditShark(f.deps(counting, 5), { ...request, signal: stop.signal }),
      ShutdownError,
    );
    const stopped = await f.store.getAudit(jobId);
    assert.equal(stopped?.state, 'running', 'a shutdown leaves the audit to resume');
    const counted = (stopped?.scanned.v1 ?? 0) + (stopped?.scanned.v2 ?? 0);
    assert.ok(counted > 0 && counted < 60, `counted ${counted} before the stop`);
    assert.ok((await f.store.auditCursors(jobId)).length > 0);

    const before = checks;
    const report = await auditShark(f.deps(counting, 5), {
      ...request,
      signal: new AbortController().signal,
    });
    assert.ok(checks - before < 40, `the resumed run checked ${checks - before} copies`);
    assert.deepEqual(report.scanned, { objects: 60, v1: 60, v2: 0 });
    assert.equal(report.safe, 20);
    assert.equal(report.unsafe.by_reason.only_copy, 20);
    assert.equal(report.unsafe.by_reason.other_copies_missing, 20);
    assert.equal(report.verdict, 'unsafe');
    const expected = objects
      .filter((x) => x.expect !== 'safe')
      .map((x) => `${x.o.key} ${x.expect}`)
      .sort();
    assert.deepEqual(
      report.unsafe_objects.map((o) => `${o.key} ${o.reason}`),
      expected,
      'each unsafe object listed once',
    );
    // A complete audit answers as it is.
    const same = await auditShark(f.deps(counting, 5), {
      ...request,
      signal: new AbortController().signal,
    });
    assert.deepEqual(same, report);
    await checker.close();
  });

  test('cancelled: no verdict, state cancelled', async () => {
    await f.put({ sharks: [3, 4] });
    const stop = new AbortController();
    const checker = f.checker();
    const stalling: CopyChecker = {
      async check(probe, deep, signal) {
        stop.abort(new JobCancelledError('cancelled by the operator'));
        return checker.check(probe, deep, signal);
      },
      close: () => checker.close(),
    };
    const jobId = await f.auditJob(3);
    await assert.rejects(
      auditShark(f.deps(stalling), {
        jobId,
        shark: node(3),
        deep: false,
        signal: stop.signal,
        log,
        store: f.store,
      }),
      JobCancelledError,
    );
    const record = await f.store.getAudit(jobId);
    assert.equal(record?.state, 'cancelled');
    assert.equal(record?.verdict, undefined);
    await checker.close();
  });

  test('the makos of the other copies do not answer: never safe', async () => {
    await f.put({ sharks: [4, 3] });
    f.mako(3).faults.set({ error: { rate: 1, status: 500 } });
    try {
      const { report } = await audit(4);
      assert.equal(report.verdict, 'unsafe');
      assert.ok(report.unsafe.by_reason.other_copies_unverified >= 1, JSON.stringify(report));
    } finally {
      f.mako(3).faults.reset();
    }
  });
});
