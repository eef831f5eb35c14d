import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMantaBuckets } from '../../src/sandbox/moray/setup.ts';
import { startShardWithClient } from '../sandbox/moray/helpers.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ADM = join(root, 'bin/rebalancer-adm.js');
const MANAGER = join(root, 'bin/rebalancer-manager.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const node = (id: string, dc: string) => ({
  manta_storage_id: id,
  datacenter: dc,
  availableMB: 100_000,
  percentUsed: 10,
  filesystem: '/manta',
  timestamp: Date.now(),
});

describe('rebalancer-adm against a running manager', () => {
  let dir: string;
  let storinfo: Server;
  let manager: ChildProcess;
  let url: string;
  let tdb: TestDatabase | undefined;
  let shard: Awaited<ReturnType<typeof startShardWithClient>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adm-test-'));
    // Shard 1's manta_storage bucket names the sharks (as minnow writes it); shard 2 is
    // unreachable, so every job fails in discovery unless cancelled first.
    shard = await startShardWithClient();
    await createMantaBuckets(shard.tdb.db);
    for (const [id, dc] of [
      ['1.stor.test.example', 'dc1'],
      ['2.stor.test.example', 'dc2'],
    ] as const) {
      await shard.client.putObject('manta_storage', id, node(id, dc));
    }
    storinfo = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify([node('1.stor.test.example', 'dc1'), node('2.stor.test.example', 'dc2')]),
      );
    });
    await new Promise<void>((resolve) => storinfo.listen(0, '127.0.0.1', resolve));
    const storinfoPort = (storinfo.address() as AddressInfo).port;
    tdb = process.env.REBALANCER_TEST_PG_URL ? await createTestDatabase() : undefined;
    const config = {
      domain_name: 'test.example',
      shards: [{ host: '1.moray.test.example' }, { host: '2.moray.test.example:1' }],
      host_aliases: { '1.moray.test.example:2020': `127.0.0.1:${shard.shard.port}` },
      listen_port: 0,
      listen_address: '127.0.0.1',
      metrics_port: 0,
      log_level: 'info',
      storinfo_url: `http://127.0.0.1:${storinfoPort}`,
      ...(tdb?.url === undefined ? {} : { database_url: tdb.url }),
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    manager = spawn(process.execPath, [MANAGER, '-c', join(dir, 'config.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      manager.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split('\n')) {
          if (line.includes('rebalancer-manager listening')) resolve(JSON.parse(line).address);
        }
      });
      manager.on('exit', (code) => reject(new Error(`manager exited with ${code}: ${buffered}`)));
    });
  });

  after(async () => {
    if (manager.exitCode === null) {
      const exited = new Promise((resolve) => manager.once('exit', resolve));
      manager.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => storinfo.close(resolve));
    await shard?.close();
    await tdb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const adm = (...args: string[]) => run(ADM, ['--url', url, ...args]);

  test('bad arguments exit non-zero with a message naming the argument', async () => {
    const none = await run(ADM, []);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Usage: rebalancer-adm/);
    const badUuid = await adm('job', 'get', 'not-a-uuid');
    assert.equal(badUuid.code, 1);
    assert.match(badUuid.stderr, /argument 'uuid'/);
    const noShark = await adm('job', 'create', 'evacuate');
    assert.equal(noShark.code, 1);
    assert.match(noShark.stderr, /--shark/);
    const badMax = await adm('job', 'create', 'evacuate', '-s', '1.stor', '-m', 'ten');
    assert.equal(badMax.code, 1);
    assert.match(badMax.stderr, /max_objects/);
    const extra = await adm('job', 'list', 'extra');
    assert.equal(extra.code, 1);
    const noUuid = await adm('job', 'get');
    assert.equal(noUuid.code, 1);
    assert.match(noUuid.stderr, /uuid/);
    const badThreads = await adm(
      'job',
      'update',
      '00000000-0000-4000-8000-000000000000',
      '-t',
      '0',
    );
    assert.equal(badThreads.code, 1);
    assert.match(badThreads.stderr, /metadata-threads/);
  });

  test('create, list, get, cancel through the manager', async () => {
    const created = await adm('job', 'create', 'evacuate', '-s', '1.stor', '-m', '5');
    assert.equal(created.code, 0, created.stderr);
    const id = /Evacuate job created: ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    const list = await adm('job', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`${id}\\s+Evacuate`));
    const listJson = JSON.parse((await adm('--json', 'job', 'list')).stdout) as { id: string }[];
    assert.ok(listJson.some((j) => j.id === id));
    const get = await adm('--json', 'job', 'get', id);
    assert.equal(get.code, 0, get.stderr);
    const status = JSON.parse(get.stdout);
    assert.equal(status.config.from_shark.manta_storage_id, '1.stor.test.example');
    assert.equal(status.max_objects, 5);
    const human = await adm('job', 'get', id);
    assert.match(human.stdout, /From Shark: 1\.stor\.test\.example \(dc1\)/);
    const duplicates = await adm('job', 'duplicates', id);
    assert.equal(duplicates.code, 0, duplicates.stderr);
    assert.equal(duplicates.stdout, 'No duplicates.\n');
    assert.deepEqual(JSON.parse((await adm('--json', 'job', 'duplicates', id)).stdout), []);
    // The job either still runs (cancel succeeds) or already failed (nothing listens on the
    // Moray port): both are answered, with exit status 0 or a 409 message.
    const cancel = await adm('job', 'cancel', id);
    if (cancel.code !== 0) assert.match(cancel.stderr, /409/);
    const after = JSON.parse((await adm('--json', 'job', 'get', id)).stdout);
    assert.ok(['Cancelled', 'Failed'].includes(after.state), after.state);
  });

  test('job get --watch follows a job to its end: progress, then the status', async () => {
    const created = await adm('--json', 'job', 'create', 'evacuate', '-s', '1.stor');
    assert.equal(created.code, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const watching = adm('job', 'get', '--watch', '1', id);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cancel = await adm('job', 'cancel', id);
    if (cancel.code !== 0) assert.match(cancel.stderr, /409/);
    const watched = await watching;
    // Not Complete: a script waiting on the job learns it from the exit status.
    assert.equal(watched.code, 3, watched.stderr);
    assert.match(watched.stdout, /^\w+ +\[[#-]{30}\] +\d+% +\d+\/\d+ done \(complete \d+/m);
    assert.match(watched.stdout, /State: (Cancelled|Failed)/);

    const json = await adm('--json', 'job', 'get', '--watch', '1', id);
    assert.equal(json.code, 3);
    const lines = json.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'a final job is reported once');
    assert.ok(['Cancelled', 'Failed'].includes(JSON.parse(lines[0]!).state));

    const badInterval = await adm('job', 'get', '--watch', '0', id);
    assert.equal(badInterval.code, 1);
    assert.match(badInterval.stderr, /watch/);
    const uuidFirst = await adm('job', 'get', '--watch', id);
    assert.equal(uuidFirst.code, 1);
    assert.match(uuidFirst.stderr, /give the job first \(job get <uuid> --watch\)/);
  });

  test('limits and dry runs: created, shown, and bad values refused naming the option', async () => {
    const created = await adm(
      'job',
      'create',
      'evacuate',
      '-s',
      '2.stor',
      '--dry-run',
      '--bytes-per-second',
      '20MiB',
      '--objects-per-second',
      '50',
      '--single-copies',
      'skip',
    );
    assert.equal(created.code, 0, created.stderr);
    const id = /Dry run created: ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    assert.match(created.stdout, new RegExp(`job plan ${id}`));
    const status = JSON.parse((await adm('--json', 'job', 'get', id)).stdout);
    assert.equal(status.dry_run, true);
    assert.equal(status.single_copies, 'skip');
    assert.match((await adm('job', 'get', id)).stdout, /Single Copies: skip/);
    const badMode = await adm('job', 'create', 'evacuate', '-s', '2.stor', '--single-copies', 'x');
    assert.equal(badMode.code, 1);
    assert.match(badMode.stderr, /--single-copies/);
    assert.deepEqual(status.limits, {
      objects_per_second: 50,
      bytes_per_second: 20 * 1024 * 1024,
      metadata_updates_per_second: null,
    });
    const bad = await adm('job', 'update', id, '--bytes-per-second', 'fast');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--bytes-per-second: "fast" is not a byte rate/);
    // "unlimited" is a limit to send (null), not a missing one: the manager takes it while the
    // dry run runs, and refuses it (409) once it has ended Planned.
    const unlimited = await adm('job', 'update', id, '--objects-per-second', 'unlimited');
    if (unlimited.code === 0) {
      const after = JSON.parse((await adm('--json', 'job', 'get', id)).stdout);
      assert.equal(after.limits.objects_per_second, null);
    } else {
      assert.match(unlimited.stderr, /409/);
    }
    const none = await adm('job', 'update', id);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /give --metadata-threads or a limit/);
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const command of ['pause', 'resume', 'plan']) {
      const missing = await adm('job', command, unknown);
      assert.equal(missing.code, 1, command);
      assert.match(missing.stderr, /404/, command);
    }
  });

  test('server errors are reported with their status and message', async () => {
    const unknownJob = await adm('job', 'get', '00000000-0000-4000-8000-000000000000');
    assert.equal(unknownJob.code, 1);
    assert.match(unknownJob.stderr, /Server response: 404/);
    const unknownShark = await adm('job', 'create', 'evacuate', '-s', '9.stor');
    assert.equal(unknownShark.code, 1);
    assert.match(unknownShark.stderr, /400: Unknown shark: 9\.stor/);
    const unreachable = await run(ADM, ['--url', 'http://127.0.0.1:9', 'job', 'list']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Request failed/);
  });
});

describe('rebalancer-manager configuration errors', () => {
  test('an invalid config exits non-zero naming the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mgr-config-'));
    try {
      const file = join(dir, 'config.json');
      await writeFile(
        file,
        JSON.stringify({
          domain_name: 'x',
          shards: [{ host: '1.moray.x' }],
          listen_port: 'eighty',
        }),
      );
      const bad = await run(MANAGER, ['-c', file]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /config key "listen_port"/);
      await writeFile(file, JSON.stringify({ shards: [{ host: '1.moray.x' }] }));
      const missing = await run(MANAGER, ['-c', file]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /"domain_name": is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
