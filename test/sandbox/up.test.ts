import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { md5OfFile } from '../../src/manta/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import { readSandboxDescription, type SandboxDescription } from '../../src/sandbox/description.ts';
import { isRunning } from '../../src/sandbox/process.ts';
import { testPostgresUrl } from '../support/database.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/rebalancer-sandbox.js', import.meta.url));
const pgUrl = testPostgresUrl();
let dir: string;
let sandbox: SandboxDescription;

function sandboxCli(...args: string[]) {
  return run(process.execPath, [BIN, ...args], { timeout: 240_000 });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-up-'));
  const dbArgs = pgUrl ? ['--database-url', pgUrl] : [];
  // Shards, makos and storinfo only: agents and manager are exercised by the demo's tests.
  await sandboxCli('up', '--dir', dir, '--sharks', '4', '--no-rebalancer', ...dbArgs);
  sandbox = await readSandboxDescription(dir);
});
after(async () => {
  // Stops whatever a failed test left running; a second `down` is harmless.
  await sandboxCli('down', '--dir', dir).catch((err: Error) => {
    console.error(`cleanup: ${err.message}`);
  });
  await rm(dir, { recursive: true, force: true });
});

test('up describes every service in sandbox.json, each a running process', () => {
  assert.equal(sandbox.shards.length, 2);
  assert.deepEqual(
    sandbox.sharks.map((s) => [s.manta_storage_id, s.datacenter]),
    [
      ['1.stor.sandbox.test', 'dc1'],
      ['2.stor.sandbox.test', 'dc2'],
      ['3.stor.sandbox.test', 'dc1'],
      ['4.stor.sandbox.test', 'dc2'],
    ],
  );
  // 2 Moray shards, 4 makos, storinfo, and the default 2 buckets-mdapi shards.
  assert.equal(sandbox.processes.length, 2 + 4 + 1 + 2);
  assert.equal(sandbox.buckets_shards?.length, 2);
  for (const proc of sandbox.processes) assert.ok(isRunning(proc.pid), proc.name);
  for (const shard of sandbox.shards)
    assert.equal(shard.database_url !== undefined, pgUrl !== undefined);
});

test('a second up in the same directory is refused', async () => {
  await assert.rejects(sandboxCli('up', '--dir', dir, '--no-rebalancer'), (err: Error) => {
    assert.match(err.message, /already running/);
    return true;
  });
});

test('seeded records point only at files whose MD5 is their contentMD5', async () => {
  const { stdout } = await sandboxCli('seed', '--dir', dir, '--objects', '300', '--seed', '7');
  const report = JSON.parse(stdout) as { objects: number; files: number };
  assert.equal(report.objects, 300);
  const roots = new Map(sandbox.sharks.map((s) => [s.manta_storage_id, s.root]));
  let objects = 0;
  let files = 0;
  for (const shard of sandbox.shards) {
    const client = new MorayClient({ host: shard.host, port: shard.port, connections: 1 });
    await client.connect();
    try {
      for await (const record of client.findObjects('manta', '(type=object)', {
        limit: 10_000,
        no_count: true,
      })) {
        const value = record.value as {
          owner: string;
          objectId: string;
          contentMD5: string;
          contentLength: number;
          vnode: number;
          sharks: { manta_storage_id: string }[];
        };
        objects++;
        assert.ok(value.sharks.length >= 1 && value.sharks.length <= 3);
        assert.equal(typeof value.vnode, 'number');
        for (const copy of value.sharks) {
          const root = roots.get(copy.manta_storage_id);
          assert.ok(root, `unknown shark ${copy.manta_storage_id}`);
          const file = await md5OfFile(join(root, value.owner, value.objectId));
          assert.equal(file.contentMd5, value.contentMD5);
          assert.equal(file.size, value.contentLength);
          files++;
        }
      }
    } finally {
      await client.close();
    }
  }
  assert.equal(objects, 300);
  assert.equal(files, report.files);
});

test('the makos answer as a real mako: no Content-MD5, connection closed', async () => {
  const shark = sandbox.sharks[0];
  assert.ok(shark);
  const res = await fetch(`${shark.mako_url}/no-such-owner/no-such-object`);
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  const owners = await readdir(shark.root, { withFileTypes: true });
  const owner = owners.find((d) => d.isDirectory() && d.name !== 'nginx_temp');
  assert.ok(owner, 'the seed left objects on the first shark');
  const [objectId] = await readdir(join(shark.root, owner.name));
  const got = await fetch(`${shark.mako_url}/${owner.name}/${objectId}`);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-md5'), null);
  assert.equal(got.headers.get('connection'), 'close');
  await got.arrayBuffer();
});

test('down stops every process and drops the shard databases', async () => {
  await sandboxCli('down', '--dir', dir);
  for (const proc of sandbox.processes) assert.equal(isRunning(proc.pid), false, proc.name);
  assert.deepEqual((await readSandboxDescription(dir)).processes, []);
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      const names = sandbox.shards.map((s) => new URL(s.database_url as string).pathname.slice(1));
      const { rows } = await client.query(
        'SELECT datname FROM pg_database WHERE datname = ANY($1)',
        [names],
      );
      assert.deepEqual(rows, []);
    } finally {
      await client.end();
    }
  }
});
