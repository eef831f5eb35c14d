/**
 * `rebalancer-adm shark audit`: the output (the verdict line first, then counts and unsafe
 * objects, "and N more" past the page) and the exit status a script acts on — 0 only for yes,
 * 1 for no, 2 when the audit could not say — from the real CLI (bin/, built) against a manager
 * stand-in answering over a real socket in the manager's shapes (checked by the CLI's client).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatAudit } from '../../src/adm/audit.ts';
import type { AuditReport } from '../../src/api/audit.ts';

const ADM = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin/rebalancer-adm.js');
const ID = '6f1c2b1e-1d2c-4e5f-8a9b-0c1d2e3f4a5b';

function report(fields: Partial<AuditReport> = {}): AuditReport {
  return {
    job_id: ID,
    shark: '1.stor.adm.test',
    deep: false,
    state: 'complete',
    verdict: 'safe',
    scanned: { objects: 5, v1: 4, v2: 1 },
    safe: 5,
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
    started_at: '2024-01-01T00:00:00.000Z',
    finished_at: '2024-01-01T00:01:00.000Z',
    ...fields,
  };
}

const UNSAFE = report({
  verdict: 'unsafe',
  safe: 3,
  unsafe: {
    total: 1002,
    by_reason: {
      only_copy: 1001,
      other_copies_missing: 1,
      other_copies_unverified: 0,
      unreadable_record: 0,
    },
  },
  unsafe_objects: [
    { key: '/acct/stor/a', tier: 'v1', shard: 1, object_id: 'oa', reason: 'only_copy' },
    { key: 'b', tier: 'v2', shard: 2, object_id: 'ob', reason: 'other_copies_missing' },
  ],
});

function status(state: string, audit?: AuditReport, error?: string) {
  return {
    config: {
      action: 'Audit',
      from_shark: { manta_storage_id: '1.stor.adm.test', datacenter: 'dc1' },
    },
    results: {
      Unprocessed: 0,
      Assigned: 0,
      Skipped: 0,
      Error: 0,
      'Post Processing': 0,
      Complete: 0,
      Duplicates: 0,
      Total: 0,
    },
    state,
    ...(audit ? { audit } : {}),
    ...(error ? { error } : {}),
  };
}

describe('shark audit: output', () => {
  test('the verdict line first, then counts, the unsafe objects and how many more', () => {
    const text = formatAudit({
      safe_to_remove: false,
      job_id: ID,
      job_state: 'Complete',
      audit: UNSAFE,
    });
    const lines = text.split('\n');
    assert.equal(lines[0], 'safe to remove: no');
    assert.match(text, /objects scanned: 5 \(v1 4, v2 1\)/);
    assert.match(text, /only_copy: +1,001/);
    assert.match(text, /\/acct\/stor\/a +v1 +1 +only_copy/);
    assert.match(text, /b +v2 +2 +other_copies_missing/);
    assert.match(text, /and 1,000 more/);
    const yes = formatAudit({
      safe_to_remove: true,
      job_id: ID,
      job_state: 'Complete',
      audit: report(),
    });
    assert.equal(yes.split('\n')[0], 'safe to remove: yes');
    assert.doesNotMatch(yes, /KEY/);
    const failed = formatAudit({
      safe_to_remove: false,
      job_id: ID,
      job_state: 'Failed',
      error: 'shard 2 unreachable',
      audit: null,
    });
    assert.deepEqual(failed.split('\n').slice(0, 2), [
      'safe to remove: no',
      `audit ${ID}: Failed: shard 2 unreachable`,
    ]);
  });
});

describe('shark audit: exit status from the real CLI', () => {
  let server: Server;
  let url: string;
  /** What GET /jobs/{id} answers next (the last one stays). */
  let answers: unknown[] = [];
  const created: unknown[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/jobs') {
          created.push(JSON.parse(body));
          res.writeHead(200, { 'content-type': 'text/plain' }).end(`${ID}\n`);
          return;
        }
        const next = answers.length > 1 ? answers.shift() : answers[0];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(next));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const adm = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [ADM, '--url', url, ...args], (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      });
    });

  test('yes: 0, after following the job', async () => {
    answers = [
      status('Running', report({ state: 'running', verdict: null })),
      status('Complete', report()),
    ];
    const run = await adm('shark', 'audit', '1.stor', '--deep');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split('\n')[0], 'safe to remove: yes');
    assert.deepEqual(created.at(-1), { action: 'audit', params: { shark: '1.stor', deep: true } });
  });

  test('no: 1, the unsafe keys listed; --json for scripts', async () => {
    answers = [status('Complete', UNSAFE)];
    const run = await adm('shark', 'audit', '1.stor');
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^safe to remove: no\n/);
    assert.match(run.stdout, /\/acct\/stor\/a/);
    const json = await adm('shark', 'audit', '1.stor', '--json');
    assert.equal(json.code, 1);
    const outcome = JSON.parse(json.stdout);
    assert.equal(outcome.safe_to_remove, false);
    assert.equal(outcome.audit.unsafe.total, 1002);
  });

  test('could not say (the scan failed, the manager is not there, bad usage): 2', async () => {
    answers = [
      status('Failed', report({ state: 'failed', verdict: null }), 'discovery of shard 2 failed'),
    ];
    const failed = await adm('shark', 'audit', '1.stor');
    assert.equal(failed.code, 2);
    assert.match(failed.stdout, /^safe to remove: no\n/);
    assert.match(failed.stdout, /discovery of shard 2 failed/);
    const gone = await execFileCode([
      ADM,
      '--url',
      'http://127.0.0.1:1',
      'shark',
      'audit',
      '1.stor',
    ]);
    assert.equal(gone, 2);
    assert.equal((await adm('shark', 'audit')).code, 2);
    assert.equal((await adm('shark', 'audit', '1.stor', '--job', 'nope')).code, 2);
    assert.equal((await adm('shark', 'audit', '1.stor', '--bogus')).code, 2);
  });

  test('--no-wait prints the job id; --job follows an existing audit', async () => {
    const started = await adm('shark', 'audit', '1.stor', '--no-wait', '--json');
    assert.equal(started.code, 0);
    assert.deepEqual(JSON.parse(started.stdout), { id: ID });
    const before = created.length;
    answers = [status('Complete', report())];
    const followed = await adm('shark', 'audit', '1.stor', '--job', ID);
    assert.equal(followed.code, 0);
    assert.equal(created.length, before, 'no new audit');
  });
});

function execFileCode(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, (err) => resolve(err ? Number(err.code) : 0));
  });
}
