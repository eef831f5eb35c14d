import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JobStatus } from '../../src/api/manager.ts';
import {
  checkBucketsOffShark,
  checkBucketsUserWrites,
  jobTiers,
} from '../../src/sandbox/demo/buckets.ts';
import { checkDemo } from '../../src/sandbox/demo/checks.ts';
import type { SandboxDescription } from '../../src/sandbox/description.ts';
import { isRunning } from '../../src/sandbox/process.ts';
import type { EvacuationVerification, ObjectSnapshot } from '../../src/sandbox/verify.ts';
import {
  type BucketsObjectState,
  type BucketsSnapshot,
  verifyBucketsSnapshot,
} from '../../src/sandbox/verify-buckets.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SANDBOX_BIN = join(ROOT, 'bin', 'rebalancer-sandbox.js');
const ADM_BIN = join(ROOT, 'bin', 'rebalancer-adm.js');
const PG_URL = process.env.REBALANCER_TEST_PG_URL;
const TIMEOUT = 300_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line tool as a user would, to its end. */
function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function demoArgs(dir: string, extra: string[] = []): string[] {
  return [
    'demo',
    '--json',
    '--objects',
    '200',
    '--seed',
    '42',
    '--dir',
    dir,
    ...(PG_URL ? ['--database-url', PG_URL] : []),
    ...extra,
  ];
}

interface DemoJson {
  job: string;
  objects: number;
  job_objects: number;
  complete: number;
  skipped: number;
  errors: number;
  skip_breakdown: Record<string, number>;
  job_tiers: Record<
    'v1' | 'v2',
    { objects: number; complete: number; skipped: number; errors: number }
  >;
  verified: number;
  lost: number;
  checks: { name: string; ok: boolean }[];
  verification: {
    v1: { objects: number; verified: number; lost: number };
    v2?: { objects: number; lost: number; metadata_changed?: number; mpu_part_no_data?: number };
  };
  passed: boolean;
  seconds: number;
  objects_per_second: number;
  manager_url: string;
  sandbox?: string;
}

function lastJson(out: Run): DemoJson {
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `stdout must be one JSON document:\n${out.stdout}`);
  return JSON.parse(lines[0] as string) as DemoJson;
}

/** Pids of every service of the sandbox, from the first record of each log. */
async function servicePids(dir: string): Promise<number[]> {
  const logs = join(dir, 'logs');
  const pids: number[] = [];
  for (const file of await readdir(logs)) {
    const first = (await readFile(join(logs, file), 'utf8')).split('\n')[0] ?? '';
    const pid = (JSON.parse(first) as { pid?: unknown }).pid;
    assert.equal(typeof pid, 'number', `${file} has no pid in its first record`);
    pids.push(pid as number);
  }
  return pids;
}

function assertOutcome(result: DemoJson, out: Run): void {
  assert.equal(out.code, 0, `demo failed:\n${out.stderr}`);
  assert.equal(result.passed, true);
  assert.equal(result.lost, 0);
  // 200 seeded + 5 single-copy objects on the shark + the object a user overwrites.
  assert.equal(result.objects, 206);
  assert.equal(result.verified, 206);
  // The verifier reports the tiers apart: v1 as above; v2 the default 10% (20 objects) plus
  // one MPU upload in each state (a final object, 6 parts, 2 upload records).
  assert.deepEqual(result.verification.v1, {
    objects: 206,
    verified: 206,
    lost: 0,
    // The user's overwrite moved by convergence; the 5 single-copy objects moved.
    still_on_shark: 0,
  });
  assert.equal(result.verification.v2?.objects, 29);
  assert.equal(result.verification.v2?.lost, 0);
  assert.equal(result.verification.v2?.metadata_changed, 0);
  assert.equal(result.verification.v2?.mpu_part_no_data, 3);
  assert.equal(result.skip_breakdown.source_is_evac_shark, undefined);
  // The user's overwrite: its old version says so, its new version was taken and moved.
  assert.equal(result.skip_breakdown.metadata_etag_mismatch, undefined);
  assert.equal(result.skip_breakdown.object_rewritten, 1);
  assert.equal(result.errors, 0);
  assert.equal(result.complete + result.skipped, result.job_objects);
  assert.ok(result.complete > 0);
  // The job's counts per tier: the overwrite is the v1 skip; the
  // v2 skips are the committed uploads' parts on the shark.
  const { v1, v2 } = result.job_tiers;
  assert.equal(v1.objects + v2.objects, result.job_objects);
  assert.equal(v1.complete + v2.complete, result.complete);
  assert.ok(v2.objects > 0 && v2.complete > 0);
  assert.equal(v1.skipped, 1);
  assert.equal(v2.skipped, result.skip_breakdown.mpu_part_no_data ?? 0);
  assert.deepEqual([v1.errors, v2.errors], [0, 0]);
  for (const name of [
    'every v2 object on the shark moved off it',
    "v2 users' overwrites and deletes kept, reported as errors",
  ]) {
    assert.equal(result.checks.find((c) => c.name === name)?.ok, true, name);
  }
  assert.ok(result.seconds > 0 && result.objects_per_second > 0);
  assert.match(result.job, /^[0-9a-f-]{36}$/);
}

describe('rebalancer-sandbox demo', { timeout: TIMEOUT }, () => {
  const dirs: string[] = [];
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-test-'));
    dirs.push(dir);
    return dir;
  };

  after(async () => {
    for (const dir of dirs) {
      // A failed test may leave a sandbox behind: stop it before removing its directory.
      await run(SANDBOX_BIN, ['down', '--dir', dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('evacuates a shark end to end, verifies it and stops everything', async () => {
    const dir = await fresh();
    const out = await run(SANDBOX_BIN, demoArgs(dir));
    const result = lastJson(out);
    assertOutcome(result, out);
    assert.equal(result.sandbox, undefined);
    assert.match(out.stderr, /PASSED: evacuated 1\.stor\.sandbox\.test/);
    assert.match(out.stderr, /Checks\n {2}ok {4}job finished/);
    const pids = await servicePids(dir);
    // 2 Moray shards, 2 buckets-mdapi shards, 6 makos, storinfo, 6 agents, the manager.
    assert.equal(pids.length, 18);
    assert.deepEqual(
      pids.filter((pid) => isRunning(pid)),
      [],
      'every service is stopped',
    );
  });

  describe('with --keep', () => {
    let dir: string;
    let kept: Run;
    let result: DemoJson;

    before(async () => {
      dir = await fresh();
      kept = await run(SANDBOX_BIN, demoArgs(dir, ['--keep']));
      result = lastJson(kept);
    });

    test('leaves the sandbox running for rebalancer-adm', async () => {
      assertOutcome(result, kept);
      assert.equal(result.sandbox, join(dir, 'sandbox.json'));
      const list = await run(ADM_BIN, ['--url', result.manager_url, '--json', 'job', 'list']);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), [
        {
          id: result.job,
          action: 'Evacuate',
          state: 'Complete',
          from_shark: '1.stor.sandbox.test',
        },
      ]);
      const get = await run(ADM_BIN, [
        '--url',
        result.manager_url,
        '--json',
        'job',
        'get',
        result.job,
      ]);
      assert.equal(get.code, 0, get.stderr);
      const status = JSON.parse(get.stdout) as {
        state: string;
        config: { from_shark: { manta_storage_id: string } };
        results: Record<string, number>;
      };
      assert.equal(status.state, 'Complete');
      assert.equal(status.config.from_shark.manta_storage_id, '1.stor.sandbox.test');
      assert.equal(status.results.Total, result.job_objects);
      assert.equal(status.results.Complete, result.complete);
      assert.equal(status.results.Skipped, result.skipped);
      const human = await run(ADM_BIN, ['--url', result.manager_url, 'job', 'get', result.job]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /Complete/);
      // The summary names the job's page in the manager's web console, which it serves.
      const consoleUrl = `${result.manager_url}/ui/#/jobs/${result.job}`;
      assert.ok(kept.stderr.includes(`console   ${consoleUrl}`), kept.stderr);
      const page = await fetch(`${result.manager_url}/ui/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await page.text(), /app\.js/);
      // The manager process reports its own memory beside L's metrics.
      const metrics = await (await fetch(`${result.manager_url}/metrics`)).text();
      assert.match(metrics, /^process_resident_memory_bytes[{ ]/m);
      assert.match(metrics, /^nodejs_heap_size_used_bytes[{ ]/m);
      assert.match(metrics, /^object_count\{type="evacuate"/m);
    });

    test('rebalancer-sandbox down stops it', async () => {
      const pids = await servicePids(dir);
      assert.ok(
        pids.every((pid) => isRunning(pid)),
        'every service runs until down',
      );
      const down = await run(SANDBOX_BIN, ['down', '--dir', dir]);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /stopped 18 processes/);
      assert.deepEqual(
        pids.filter((pid) => isRunning(pid)),
        [],
      );
    });
  });
});

describe('demo checks', () => {
  const SHARK = '1.stor.sandbox.test';
  const object = (key: string, sharks: string[], etag = 'E0') => ({
    key,
    shard: '1.moray.sandbox.test',
    objectId: `id-${key}`,
    owner: 'owner',
    contentMD5: 'md5',
    sharks,
    etag,
  });
  const before: ObjectSnapshot = new Map([
    ['/a', object('/a', [SHARK, '2.stor.sandbox.test'])],
    ['/single', object('/single', [SHARK])],
    ['/user', object('/user', [SHARK, '2.stor.sandbox.test'])],
    ['/b', object('/b', ['3.stor.sandbox.test'])],
  ]);
  const status = (over: Partial<JobStatus['results']> = {}): JobStatus => ({
    config: {
      action: 'Evacuate',
      from_shark: { manta_storage_id: SHARK, datacenter: 'dc1' },
    },
    state: 'Complete',
    results: {
      Unprocessed: 0,
      Assigned: 0,
      Skipped: 2,
      Error: 0,
      'Post Processing': 0,
      Complete: 2,
      Duplicates: 0,
      // The three objects, and the user's new version convergence took in place of one.
      Total: 4,
      skip_breakdown: { object_already_in_datacenter: 1, object_rewritten: 1 },
      ...over,
    },
    convergence: {
      rounds_limit: 3,
      rounds: [
        {
          round: 1,
          retried: 1,
          rewritten: 1,
          new_versions: 1,
          became: { complete: 1, skipped: {}, error: {}, unfinished: 0 },
          finished_at: '2026-12-02T05:00:00.000Z',
        },
      ],
    },
    audit: auditOf(0),
  });
  function auditOf(objects: number): NonNullable<JobStatus['audit']> {
    return {
      job_id: 'j',
      shark: SHARK,
      deep: false,
      state: 'complete',
      verdict: objects === 0 ? 'safe' : 'unsafe',
      scanned: { objects, v1: objects, v2: 0 },
      safe: 0,
      unsafe: {
        total: 0,
        by_reason: {
          only_copy: 0,
          other_copies_missing: 0,
          other_copies_unverified: 0,
          unreadable_record: 0,
        },
      },
      unsafe_objects: [],
      started_at: '2026-12-02T05:00:00.000Z',
      finished_at: '2026-12-02T05:00:01.000Z',
    };
  }
  const clean: EvacuationVerification = {
    objects: 4,
    verified: 4,
    stillOnEvacuated: 0,
    missingCopies: [],
    reducedCopies: 0,
    lost: 0,
    problems: [],
  };
  const userWrite = {
    key: '/user',
    etag: 'USER',
    objectId: 'id-user-new',
    sharks: [SHARK, '2.stor.sandbox.test'],
  };
  const input = {
    evacuated: SHARK,
    before,
    status: status(),
    verification: clean,
    singleCopy: new Set(['/single']),
    singleCopyLeft: 0,
    userWrite,
    // The user's version, moved off the shark by convergence.
    userRecordNow: {
      ...object('/user', ['4.stor.sandbox.test', '2.stor.sandbox.test'], 'MOVED'),
      objectId: 'id-user-new',
    },
  };
  const failing = (checks: { name: string; ok: boolean }[]) =>
    checks.filter((c) => !c.ok).map((c) => c.name);

  test('a clean evacuation passes every check', () => {
    assert.deepEqual(failing(checkDemo(input)), []);
  });

  test('lost data, a missed object, an unexplained reference or a clobbered write fail', () => {
    assert.deepEqual(failing(checkDemo({ ...input, verification: { ...clean, lost: 1 } })), [
      'no data lost',
    ]);
    assert.deepEqual(failing(checkDemo({ ...input, status: status({ Total: 2, Complete: 0 }) })), [
      'every object on the shark was in the job',
    ]);
    // Three left: the two skips reported explain two at most.
    assert.deepEqual(
      failing(checkDemo({ ...input, verification: { ...clean, stillOnEvacuated: 3 } })),
      ['no reference to the shark left except reported skips/errors'],
    );
    const clobbered = object('/user', ['4.stor.sandbox.test', '2.stor.sandbox.test'], 'MANAGER');
    assert.deepEqual(failing(checkDemo({ ...input, userRecordNow: clobbered })), [
      "user's overwrite during the job kept, then moved by convergence",
    ]);
    const left = { ...input.userRecordNow, sharks: [SHARK, '2.stor.sandbox.test'] };
    assert.deepEqual(failing(checkDemo({ ...input, userRecordNow: left })), [
      "user's overwrite during the job kept, then moved by convergence",
    ]);
    assert.ok(failing(checkDemo({ ...input, status: { ...status(), state: 'Failed' } })).length);
    const { audit: _none, ...unaudited } = status();
    const audit = 'the job ended with the audit, which finds only what the job left';
    assert.deepEqual(failing(checkDemo({ ...input, status: unaudited })), [audit]);
    // The job left one object (no destination; the rewritten version moved on): the audit
    // finding two is one the job did not report.
    const found = (objects: number) => ({ ...status(), audit: auditOf(objects) });
    assert.deepEqual(failing(checkDemo({ ...input, status: found(1) })), []);
    assert.deepEqual(failing(checkDemo({ ...input, status: found(2) })), [audit]);
  });

  test('an error the manager reported accounts for an object left on the shark', () => {
    const reported = status({ Error: 1, Complete: 1 });
    const result = checkDemo({
      ...input,
      status: reported,
      verification: { ...clean, stillOnEvacuated: 1, verified: 3 },
    });
    assert.deepEqual(failing(result), []);
  });

  test('job counts per tier: from results.tiers, all v1 when the job has no v2 objects', () => {
    const tier = { Unprocessed: 0, Assigned: 0, 'Post Processing': 0 };
    const r = status({
      Complete: 3,
      Skipped: 1,
      Total: 4,
      tiers: {
        v1: { ...tier, Complete: 1, Skipped: 1, Error: 0, Total: 2 },
        v2: { ...tier, Complete: 2, Skipped: 0, Error: 0, Total: 2 },
      },
    }).results;
    assert.deepEqual(jobTiers(r), {
      v1: { objects: 2, complete: 1, skipped: 1, errors: 0 },
      v2: { objects: 2, complete: 2, skipped: 0, errors: 0 },
    });
    assert.deepEqual(jobTiers(status({ Duplicates: 1, Total: 5 }).results), {
      v1: { objects: 4, complete: 2, skipped: 2, errors: 0 },
      v2: { objects: 0, complete: 0, skipped: 0, errors: 0 },
    });
  });

  describe("v2: users' writes during the job and rows left on the shark", () => {
    const row = (name: string, sharks: string[], id = `id-${name}`): BucketsObjectState => ({
      key: `o/b/${name}`,
      shard: '1.buckets-mdapi.sandbox.test',
      vnode: 0,
      id,
      owner: 'o',
      bucket_id: 'b',
      name,
      content_length: 0,
      content_md5: 'md5',
      content_type: 'text/plain',
      sharks,
      headers: { 'm-a': '1' },
      properties: null,
    });
    // No row checked here has copies to read: the sharks' roots are never opened.
    const sandbox: SandboxDescription = {
      domain: 'sandbox.test',
      storinfo: { url: 'http://127.0.0.1:1' },
      shards: [{ name: '1.moray.sandbox.test', host: '127.0.0.1', port: 1 }],
      sharks: [],
      processes: [],
    };
    const other = '2.stor.sandbox.test';
    const overwritten = row('over', [SHARK, other]);
    const deleted = row('gone', [SHARK, other]);
    const before: BucketsSnapshot = new Map([
      [overwritten.key, overwritten],
      [deleted.key, deleted],
    ]);
    const users = row('over', [SHARK, other], 'id-users');
    const userWrites = new Map([
      [overwritten.key, users],
      [deleted.key, null],
    ]);
    const v2Status = (errors: Record<string, number>) =>
      status({
        Error: 2,
        Skipped: 2,
        Complete: 1,
        Total: 5,
        error_breakdown: { mdapi: errors },
        tiers: {
          v1: {
            Unprocessed: 0,
            Assigned: 0,
            'Post Processing': 0,
            Complete: 1,
            Skipped: 2,
            Error: 0,
            Total: 3,
          },
          v2: {
            Unprocessed: 0,
            Assigned: 0,
            'Post Processing': 0,
            Complete: 0,
            Skipped: 0,
            Error: 2,
            Total: 2,
          },
        },
      }).results;

    test('kept writes are expected as mdapi_etag_mismatch / mdapi_object_not_found errors', async () => {
      const now: BucketsSnapshot = new Map([[users.key, users]]);
      const v = await verifyBucketsSnapshot(sandbox, now, { evacuated: SHARK, before, userWrites });
      assert.deepEqual(v.problems, []);
      assert.deepEqual(
        [v.userWritesKept, v.userWritesLost, v.lost, v.stillOnEvacuated],
        [2, 0, 0, 0],
      );
      assert.deepEqual(v.expectedErrors, { mdapi_etag_mismatch: 1, mdapi_object_not_found: 1 });
      const errors = v2Status({ etag_mismatch: 1, object_not_found: 1 });
      assert.equal(checkBucketsUserWrites(v, errors).ok, true);
      assert.equal(checkBucketsOffShark(v, errors, SHARK).ok, true);
      // Reported as skips (or not at all), the users' writes fail the check.
      assert.equal(checkBucketsUserWrites(v, v2Status({})).ok, false);
    });

    test("an overwrite the rebalancer rewrote, or a delete undone, is a lost user's write", async () => {
      const clobbered = { ...users, sharks: ['3.stor.sandbox.test', other] };
      const now: BucketsSnapshot = new Map([
        [users.key, clobbered],
        [deleted.key, deleted],
      ]);
      const v = await verifyBucketsSnapshot(sandbox, now, { evacuated: SHARK, before, userWrites });
      assert.equal(v.userWritesLost, 2);
      assert.ok(v.problems.includes(`${users.key}: the user's overwrite has its sharks changed`));
      assert.ok(v.problems.some((p) => p.startsWith(`${deleted.key}: deleted by its user`)));
      assert.equal(
        checkBucketsUserWrites(v, v2Status({ etag_mismatch: 1, object_not_found: 1 })).ok,
        false,
      );
    });

    test('a v2 row left on the shark fails unless the manager reported a v2 skip or error for it', async () => {
      const left = row('left', [SHARK, other]);
      const base: BucketsSnapshot = new Map([[left.key, left]]);
      const v = await verifyBucketsSnapshot(sandbox, base, { evacuated: SHARK, before: base });
      assert.equal(v.stillOnEvacuated, 1);
      const moved = status({
        tiers: {
          v1: {
            Unprocessed: 0,
            Assigned: 0,
            'Post Processing': 0,
            Complete: 1,
            Skipped: 2,
            Error: 0,
            Total: 3,
          },
          v2: {
            Unprocessed: 0,
            Assigned: 0,
            'Post Processing': 0,
            Complete: 1,
            Skipped: 0,
            Error: 0,
            Total: 1,
          },
        },
      }).results;
      assert.equal(checkBucketsOffShark(v, moved, SHARK).ok, false);
      const reported = v2Status({ update_failed: 2 });
      assert.equal(checkBucketsOffShark(v, reported, SHARK).ok, true);
    });
  });
});
