/**
 * `rebalancer-adm shark orphans` (the real bin/rebalancer-adm.js) against an HTTP server that
 * answers as a manager would — or would not: a body that ends before its summary, an error
 * line, a line of the wrong shape, a 409. The list file appears only for a whole answer;
 * anything else exits 1 saying why.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ADM = join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin/rebalancer-adm.js');
const SHARK = '1.stor.cli.test';
const FILE = {
  path: '/5fd1d7c0-8d5a-4a4e-9b39-111111111111/5fd1d7c0-8d5a-4a4e-9b39-222222222222',
  size: 3,
  mtime: 1,
};
const SUMMARY = {
  files: 1,
  bytes: 3,
  listed_files: 2,
  listed_bytes: 13,
  kept: 1,
  too_recent: 0,
  skipped_entries: 0,
  live_records: 1,
  unreadable_records: 0,
  grace_seconds: 3600,
  listed_at: '2026-01-01T00:00:00.000Z',
};

describe('rebalancer-adm shark orphans', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let answer: { status: number; body: string } = { status: 200, body: '' };
  const requests: { method: string; url: string; body: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orphans-cli-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        const type = answer.status === 200 ? 'application/x-ndjson' : 'application/json';
        res.writeHead(answer.status, { 'content-type': type }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    requests.length = 0;
  });

  const adm = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [ADM, '--url', url, ...args],
        { cwd: dir },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });
  const lines = (...values: unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('');

  test('a whole answer: the list in the default file, the counts on stdout', async () => {
    answer = {
      status: 200,
      body: lines(
        { progress: { phase: 'scanning', listed_files: 2, live_records: 1, deleted: 0 } },
        FILE,
        { summary: SUMMARY },
      ),
    };
    const run = await adm('shark', 'orphans', SHARK, '--grace-seconds', '60');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(requests[0]?.url, `/sharks/${SHARK}/orphans?grace_seconds=60`);
    assert.match(run.stdout, /^orphans on 1\.stor\.cli\.test: 1 files, 3 B/);
    assert.match(run.stderr, /scanning: 2 files listed, 1 live records read/);
    assert.equal(await readFile(join(dir, `orphans-${SHARK}.txt`), 'utf8'), `${FILE.path}\n`);
  });

  test('cut off, failed midway or malformed: exit 1, and no list file', async () => {
    for (const [body, why] of [
      [lines(FILE), /ended before its summary/],
      [
        lines(FILE, { error: { code: 'discovery_shard_failed', message: 'shard 2 down' } }),
        /discovery_shard_failed: shard 2 down/,
      ],
      [lines(FILE, { path: 7 }), /unexpected line/],
    ] as const) {
      answer = { status: 200, body };
      const run = await adm('shark', 'orphans', SHARK, '-o', 'partial.txt');
      assert.equal(run.code, 1);
      assert.match(run.stderr, why);
    }
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith('partial')),
      [],
    );
  });

  test('--delete posts the grace; a refusal exits 1 with the manager message', async () => {
    answer = {
      status: 409,
      body: JSON.stringify({ code: 'AuditNotSafe', message: `${SHARK} has no complete audit` }),
    };
    const refused = await adm('shark', 'orphans', SHARK, '--delete');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /409: 1\.stor\.cli\.test has no complete audit/);
    assert.deepEqual(requests[0], {
      method: 'POST',
      url: `/sharks/${SHARK}/orphans/delete`,
      body: JSON.stringify({ grace_seconds: 3600 }),
    });
    const summary = { ...SUMMARY, deleted: 1, deleted_bytes: 3, absent: 0, changed: 0, failed: 0 };
    answer = { status: 200, body: lines({ ...FILE, outcome: 'deleted' }, { summary }) };
    const done = await adm('--json', 'shark', 'orphans', SHARK, '--delete', '-o', 'd.txt');
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).deleted, 1);
    assert.equal(await readFile(join(dir, 'd.txt'), 'utf8'), `${FILE.path}\n`);
  });

  test('a bad grace is a usage error', async () => {
    const run = await adm('shark', 'orphans', SHARK, '--grace-seconds', 'soon');
    assert.notEqual(run.code, 0);
    assert.equal(requests.length, 0);
  });
});
