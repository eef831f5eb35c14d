import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  readSandboxDescription,
  SANDBOX_FILE,
  type SandboxDescription,
  writeSandboxDescription,
} from '../../src/sandbox/description.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-description-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function described(pid: number): SandboxDescription {
  return {
    domain: 'sandbox.test',
    storinfo: { url: 'http://127.0.0.1:1' },
    shards: [{ name: '1.moray.sandbox.test', host: '127.0.0.1', port: 2 }],
    sharks: [
      {
        manta_storage_id: '1.stor.sandbox.test',
        datacenter: 'dc1',
        mako_url: 'http://127.0.0.1:3',
        root: '/tmp/mako1',
      },
    ],
    processes: [{ name: 'storinfo', pid, log: '/tmp/storinfo.log' }],
  };
}

test('a description written and read back is the same', async () => {
  await writeSandboxDescription(dir, described(100));
  assert.deepEqual(await readSandboxDescription(dir), described(100));
});

// Two fault lanes restarting services at once write the description together: each write
// must land, the last one called must be the one left, and no temp file may stay behind.
test('writes at once all succeed, in the order called', async () => {
  const pids = Array.from({ length: 20 }, (_, i) => 1000 + i);
  const paths = await Promise.all(pids.map((pid) => writeSandboxDescription(dir, described(pid))));
  assert.deepEqual(new Set(paths), new Set([join(dir, SANDBOX_FILE)]));
  assert.deepEqual(await readSandboxDescription(dir), described(1019));
  assert.deepEqual(await readdir(dir), [SANDBOX_FILE]);
});
