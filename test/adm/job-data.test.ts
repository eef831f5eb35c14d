/**
 * `rebalancer-adm job objects | export | delete` (issue 19): the real bin/rebalancer-adm.js
 * against a real listening manager over a real store. Listings follow `next` to the end (a
 * job of 2,100 objects takes three pages) unless --limit; --json gives JSON lines of the
 * route's entries; an export is every object, to stdout or whole to a file, its count on
 * stderr; a delete answers with the objects it took; refusals exit 1 with the manager's message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Compile } from 'typebox/compile';
import { JobObjectEntry } from '../../src/api/job-objects.ts';
import { createLogger } from '../../src/log/index.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import {
  blockingExecutor,
  createJob,
  EVACUATED,
  seedObjects,
} from '../manager/job-data-fixture.ts';
import { mantaObject } from '../manager/jobs/evacuate/helpers.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const ADM = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin/rebalancer-adm.js');
const BIG = 2100;
const checkEntry = Compile(JobObjectEntry);

describe('rebalancer-adm job objects, export, delete', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let url: string;
  let dir: string;
  let job: string;
  let big: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adm-job-data-'));
    tdb = await createTestDatabase();
    service = await startManagerService({
      db: tdb.db,
      executor: blockingExecutor,
      sharks: new StaticSharkDirectory([EVACUATED], 'example.com'),
      log: createLogger({ name: 'adm-job-data-test', level: 'silent' }),
      settings: () => ({ snaplinkCleanupRequired: false, metadataThreads: 1 }),
    });
    url = await service.app.listen({ host: '127.0.0.1', port: 0 });
    job = await createJob(service.store);
    await seedObjects(service.store, job);
    big = await createJob(service.store, 'running');
    const objects = Array.from({ length: BIG }, (_, i) =>
      mantaObject(`b-${String(i).padStart(5, '0')}`),
    );
    await service.store.recordDiscovered(big, objects);
  });
  after(async () => {
    await service.close();
    await tdb.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const adm = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [ADM, '--url', url, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });
  const jsonLines = (text: string) =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const value: unknown = JSON.parse(l);
        assert.ok(checkEntry.Check(value), l);
        return value as JobObjectEntry;
      });

  test('job objects: a table of every object, or JSON lines, filtered', async () => {
    const table = await adm('job', 'objects', job);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID +STATUS +REASON +SHARD +KEY$/);
    assert.equal(lines.at(-1), '24 objects');
    assert.equal(lines.length, 26);
    assert.match(
      table.stdout,
      /o-13 +error +moray_update_failed +v1\/1 +\/acct\/stor\/o-13 \(etag conflict\)/,
    );

    const errors = await adm('--json', 'job', 'objects', job, '--status', 'error');
    assert.equal(errors.code, 0, errors.stderr);
    assert.deepEqual(
      jsonLines(errors.stdout).map((o) => o.id),
      ['o-12', 'o-13', 'o-14', 'o-15'],
    );
    // --json after the subcommand works as well.
    const skips = await adm(
      'job',
      'objects',
      job,
      '--reason',
      'metadata_etag_mismatch',
      '--key-prefix',
      '/acct/logs/o-0',
      '--json',
    );
    assert.deepEqual(
      jsonLines(skips.stdout).map((o) => [o.id, o.reason]),
      ['o-06', 'o-07', 'o-08', 'o-09'].map((id) => [id, 'metadata_etag_mismatch']),
    );
    const none = await adm('job', 'objects', job, '--reason', 'md5_mismatch');
    assert.equal(none.stdout, 'No objects.\n');
  });

  test('job objects follows next to the end, or stops at --limit', async () => {
    const all = jsonLines((await adm('--json', 'job', 'objects', big)).stdout).map((o) => o.id);
    assert.equal(all.length, BIG);
    assert.equal(new Set(all).size, BIG);
    assert.deepEqual(all, [...all].sort());
    const some = jsonLines((await adm('--json', 'job', 'objects', big, '--limit', '1500')).stdout);
    assert.deepEqual(
      some.map((o) => o.id),
      all.slice(0, 1500),
    );
    const few = await adm('job', 'objects', job, '--status', 'skipped', '--limit', '2');
    assert.match(few.stdout, /o-06[\s\S]*o-07[\s\S]*2 objects\n$/);
    assert.doesNotMatch(few.stdout, /o-08/);
  });

  test('bad filters exit 1 naming them', async () => {
    const status = await adm('job', 'objects', job, '--status', 'done');
    assert.equal(status.code, 1);
    assert.match(status.stderr, /--status.*done/);
    const reason = await adm('job', 'objects', job, '--reason', 'oops');
    assert.equal(reason.code, 1);
    assert.match(reason.stderr, /400: Unknown reason "oops"/);
    const limit = await adm('job', 'objects', job, '--limit', '0');
    assert.equal(limit.code, 1);
    assert.match(limit.stderr, /--limit/);
    const unknown = await adm('job', 'objects', '00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404: Job .* not found/);
  });

  test('job export: every object as JSON lines, to stdout or whole to a file', async () => {
    const out = await adm('job', 'export', job);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(jsonLines(out.stdout).length, 24);
    assert.equal(out.stderr, `Exported 24 objects of job ${job} to stdout\n`);

    const file = join(dir, 'big.ndjson');
    const toFile = await adm('job', 'export', big, '--output', file);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.equal(toFile.stdout, '');
    assert.equal(toFile.stderr, `Exported ${BIG} objects of job ${big} to ${file}\n`);
    const ids = jsonLines(await readFile(file, 'utf8')).map((o) => o.id);
    assert.equal(new Set(ids).size, BIG);
    assert.deepEqual(await readdir(dir), ['big.ndjson'], 'no partial file left');

    const nowhere = await adm('job', 'export', job, '-o', join(dir, 'missing', 'x.ndjson'));
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /cannot write .*missing/);
    assert.deepEqual(await readdir(dir), ['big.ndjson']);
  });

  test('job delete: a finished job goes, one not finished is refused', async () => {
    const refused = await adm('job', 'delete', big);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /409: Job .* is Running: only a finished job can be deleted/);
    const deleted = await adm('job', 'delete', job);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `Job ${job} deleted with its 24 objects\n`);
    assert.equal((await adm('job', 'objects', job)).code, 1);
    const other = await createJob(service.store, 'failed');
    const json = await adm('--json', 'job', 'delete', other);
    assert.deepEqual(JSON.parse(json.stdout), { deleted: other, objects: 0 });
  });
});
