/**
 * Shark resolution from Moray's `manta_storage` bucket on shard 1 (manager.md §4.2), against the
 * real Moray stand-in on a real database; and a real manager process that creates a job for a
 * shark the runbook's first step took out of storinfo (peers.md §5.2), or with storinfo down.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  candidateIds,
  MorayStorageSharkDirectory,
  SharkRecordError,
} from '../../src/manager/sharks.ts';
import { MorayClient, MorayError } from '../../src/moray/index.ts';
import { createMantaBuckets } from '../../src/sandbox/moray/setup.ts';
import { entryPoint, startService, stopProcess } from '../../src/sandbox/process.ts';
import { type StorinfoHandle, startStorinfo } from '../../src/sandbox/storinfo/index.ts';
import { buildRecord } from '../../src/sandbox/storinfo/record.ts';
import { silent, startShardWithClient } from '../sandbox/moray/helpers.ts';

const DOMAIN = 'example.com';
const stor = (n: number): string => `${n}.stor.${DOMAIN}`;

type Shard = Awaited<ReturnType<typeof startShardWithClient>>;

/** A shard 1 with Manta's buckets and minnow's record of each shark. */
async function startStorageShard(sharks: { id: string; dc: string }[]): Promise<Shard> {
  const shard = await startShardWithClient();
  await createMantaBuckets(shard.tdb.db);
  for (const s of sharks) {
    const shark = { manta_storage_id: s.id, datacenter: s.dc, root: '/manta' };
    const record = buildRecord(shark, 1024 ** 4, 0, Date.now());
    await shard.client.putObject('manta_storage', s.id, { ...record });
  }
  return shard;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

describe('MorayStorageSharkDirectory', () => {
  let shard: Shard;
  let directory: MorayStorageSharkDirectory;

  before(async () => {
    shard = await startStorageShard([
      { id: stor(1), dc: 'dc1' },
      { id: stor(2), dc: 'dc2' },
    ]);
    directory = new MorayStorageSharkDirectory(shard.client, DOMAIN);
  });
  after(async () => {
    await shard.close();
  });

  test('candidate ids: as given, and with the domain appended', () => {
    assert.deepEqual(candidateIds('1.stor', DOMAIN), ['1.stor', stor(1)]);
    assert.deepEqual(candidateIds(stor(1), DOMAIN), [stor(1)]);
  });

  test('resolves a short name and a full id to the record of minnow', async () => {
    assert.deepEqual(await directory.resolve('1.stor'), {
      manta_storage_id: stor(1),
      datacenter: 'dc1',
    });
    assert.deepEqual(await directory.resolve(stor(2)), {
      manta_storage_id: stor(2),
      datacenter: 'dc2',
    });
  });

  test('an unknown shark is undefined', async () => {
    assert.equal(await directory.resolve('9.stor'), undefined);
    assert.equal(await directory.resolve(stor(9)), undefined);
  });

  test('filter syntax in a name is a value, not a wildcard or a clause', async () => {
    // Unescaped, `*` is a presence filter that matches every shark.
    assert.equal(await directory.resolve('*'), undefined);
    assert.equal(await directory.resolve('1.stor*'), undefined);
    assert.equal(await directory.resolve(`x)(manta_storage_id=${stor(1)}`), undefined);
  });

  test('a record that does not name a datacenter is an error, not a shark', async () => {
    await shard.client.putObject('manta_storage', stor(3), { manta_storage_id: stor(3) });
    await assert.rejects(
      directory.resolve('3.stor'),
      (err: unknown) =>
        err instanceof SharkRecordError &&
        err.code === 'BadSharkRecord' &&
        /datacenter/.test(err.message),
    );
  });

  test('a Moray that cannot answer makes resolve throw', async () => {
    const down = new MorayClient({
      host: '127.0.0.1',
      port: await closedPort(),
      connections: 1,
      healthCheckIntervalMs: 0,
      reconnect: { minDelayMs: 10, maxDelayMs: 50 },
      log: silent,
    });
    try {
      const dead = new MorayStorageSharkDirectory(down, DOMAIN, { timeoutMs: 2000 });
      await assert.rejects(dead.resolve('1.stor'), MorayError);
    } finally {
      await down.close();
    }
  });
});

describe('a manager resolves sharks from Moray, not storinfo', () => {
  let dir: string;
  let shard: Shard;
  let storinfo: StorinfoHandle | undefined;
  let managerPid: number | undefined;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'manager-sharks-'));
    shard = await startStorageShard([
      { id: stor(1), dc: 'dc1' },
      { id: stor(2), dc: 'dc2' },
      { id: stor(3), dc: 'dc1' },
    ]);
    storinfo = await startStorinfo({
      sharks: [1, 2, 3].map((n) => ({
        manta_storage_id: stor(n),
        datacenter: n === 2 ? 'dc2' : 'dc1',
        root: dir,
        capacityBytes: 1024 ** 4,
      })),
      log: silent,
    });
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        domain_name: DOMAIN,
        shards: [{ host: `1.moray.${DOMAIN}` }],
        listen_address: '127.0.0.1',
        listen_port: 0,
        metrics_port: 0,
        log_level: 'info',
        storinfo_url: storinfo.url,
        host_aliases: { [`1.moray.${DOMAIN}:2020`]: `127.0.0.1:${shard.shard.port}` },
      }),
    );
    const log = join(dir, 'manager.log');
    const manager = await startService({
      name: 'manager',
      entry: entryPoint('manager/main'),
      args: ['--config', config],
      log,
    });
    managerPid = manager.process.pid;
    base = manager.address.url;
  });
  after(async () => {
    if (managerPid !== undefined) await stopProcess(managerPid);
    await storinfo?.close();
    await shard.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** POST /jobs: the job id (text) when created, else the JSON error body. */
  async function create(shark: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'evacuate', params: { from_shark: shark } }),
    });
    return { status: res.status, body: (await res.text()).trim() };
  }

  async function fromShark(id: string): Promise<unknown> {
    const res = await fetch(`${base}/jobs/${id}`);
    assert.equal(res.status, 200);
    const status = (await res.json()) as { config: { from_shark: unknown } };
    return status.config.from_shark;
  }

  test('minnow disabled and storinfo flushed: the job is still created', async () => {
    assert.ok(storinfo);
    storinfo.setHeartbeat(stor(1), 'stale');
    await storinfo.flush();
    assert.ok(!storinfo.nodes().some((n) => n.manta_storage_id === stor(1)));
    const created = await create('1.stor');
    assert.equal(created.status, 200, created.body);
    assert.deepEqual(await fromShark(created.body), {
      manta_storage_id: stor(1),
      datacenter: 'dc1',
    });
  });

  test('a shark Moray does not know is still refused with 400', async () => {
    const created = await create('9.stor');
    assert.equal(created.status, 400);
    assert.deepEqual(JSON.parse(created.body), {
      code: 'BadRequest',
      message: 'Unknown shark: 9.stor',
    });
  });

  test('storinfo down: the job is still created', async () => {
    assert.ok(storinfo);
    await storinfo.close();
    storinfo = undefined;
    const created = await create(stor(3));
    assert.equal(created.status, 200, created.body);
    assert.deepEqual(await fromShark(created.body), {
      manta_storage_id: stor(3),
      datacenter: 'dc1',
    });
  });

  test('shard 1 down: job creation answers 503', async () => {
    await shard.shard.close();
    const created = await create('2.stor');
    assert.equal(created.status, 503, created.body);
    assert.equal((JSON.parse(created.body) as { code: unknown }).code, 'ServiceUnavailable');
  });
});
