/**
 * The storinfo client, poller and picker against the sandbox storinfo stand-in (real HTTP,
 * real directory usage): paging over several pages, faults, and placement from the snapshot.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import { type StorinfoHandle, startStorinfo } from '../../src/sandbox/storinfo/index.ts';
import {
  DestinationPicker,
  MIB,
  Reservations,
  StorinfoClient,
  StorinfoPoller,
  type StorinfoRequestError,
} from '../../src/storinfo/index.ts';

const SHARKS = 130;
const GIB = 1024 * MIB;
const id = (n: number) => `${n}.stor.sandbox.example.com`;

describe('storinfo against the sandbox stand-in', () => {
  let dir: string;
  let storinfo: StorinfoHandle;
  let client: StorinfoClient;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storinfo-test-'));
    const sharks = [];
    for (let n = 1; n <= SHARKS; n++) {
      const root = join(dir, `mako${n}`);
      await mkdir(root);
      sharks.push({
        manta_storage_id: id(n),
        datacenter: `dc${n % 3}`,
        root,
        capacityBytes: (10 + n) * GIB,
      });
    }
    // Shark 2 is half full.
    await writeFile(join(dir, 'mako2', 'data'), Buffer.alloc(6 * MIB));
    sharks[1] = { ...(sharks[1] as (typeof sharks)[number]), capacityBytes: 12 * MIB };
    storinfo = await startStorinfo({
      sharks,
      port: 0,
      log: createLogger({ name: 'storinfo', level: 'silent' }),
    });
    client = new StorinfoClient({ baseUrl: storinfo.url });
  });
  after(async () => {
    await client.close();
    await storinfo.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('lists every node across pages in storinfo order', async () => {
    const nodes = await client.listStorageNodes();
    assert.equal(nodes.length, SHARKS);
    assert.deepEqual(
      nodes.map((n) => n.manta_storage_id),
      Array.from({ length: SHARKS }, (_, i) => id(i + 1)),
    );
    const two = nodes.find((n) => n.manta_storage_id === id(2));
    assert.equal(two?.percentUsed, 50);
  });

  test('faults: a 503 and a record missing a field fail the fetch; the poller keeps its snapshot', async () => {
    const poller = new StorinfoPoller({ client, intervalMs: 60_000 });
    try {
      await poller.start();
      assert.equal(poller.snapshot()?.nodes.length, SHARKS);
      storinfo.setFaults({ status: 503 });
      assert.equal(await poller.poll(), undefined);
      assert.equal(poller.snapshot()?.nodes.length, SHARKS);
      assert.equal((poller.status().lastError as StorinfoRequestError).status, 503);

      storinfo.setFaults({ body: 'missing-field' });
      assert.equal(await poller.poll(), undefined);
      assert.match(poller.status().lastError?.message ?? '', /field timestamp is missing/);
      assert.equal(poller.status().consecutiveFailures, 2);
      assert.equal(poller.snapshot()?.version, 1);
    } finally {
      storinfo.setFaults({});
      poller.stop();
    }
  });

  test('flush makes storinfo re-read usage; the picker then sees the change', async () => {
    const poller = new StorinfoPoller({ client, intervalMs: 60_000 });
    try {
      await poller.start();
      const evacuated = { manta_storage_id: id(1), datacenter: 'dc1' };
      const picker = new DestinationPicker({
        evacuated,
        snapshot: () => poller.snapshot(),
        reservations: new Reservations(),
        minAvailableMb: 0,
        maxFillPercentage: 90,
      });
      // Shark 2: 12 MiB, 6 MiB used, 90 % fill → 4 MiB usable (spec formula on whole MiB).
      assert.equal(picker.freeBytes(id(2)), 4 * MIB);
      await writeFile(join(dir, 'mako2', 'more'), Buffer.alloc(5 * MIB));
      await poller.flush();
      assert.equal(picker.freeBytes(id(2)), 0, 'over the fill limit after the write');
      const d = picker.pick({ sharks: [evacuated], sizeBytes: GIB });
      assert.equal(d.outcome, 'placed');
      if (d.outcome === 'placed') {
        assert.notEqual(d.shark.manta_storage_id, id(1));
        assert.notEqual(d.shark.manta_storage_id, id(2));
      }
    } finally {
      poller.stop();
    }
  });
});
