import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../src/log/index.ts';
import {
  type StorageNodeRecord,
  type StorinfoHandle,
  startStorinfo,
} from '../../../src/sandbox/storinfo/index.ts';

const MIB = 1024 * 1024;
const silent = createLogger({ name: 'storinfo', level: 'silent' });
const id = (n: number) => `${n}.stor.test.joyent.us`;

interface Page {
  status: number;
  body: unknown;
  link: string | null;
}

async function get(url: string): Promise<Page> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Left as text: some fault tests expect a body that is not JSON.
  }
  return { status: res.status, body, link: res.headers.get('link') };
}

const ids = (p: Page) => (p.body as StorageNodeRecord[]).map((n) => n.manta_storage_id);

describe('storinfo stand-in', () => {
  let base: string;
  let si: StorinfoHandle;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'storinfo-test-'));
    const sharks = [];
    // Declared out of order: the served list must come back numerically sorted.
    for (const n of [12, 3, 10, 1, 9, 2, 11, 4, 8, 5, 7, 6]) {
      const root = join(base, String(n));
      await mkdir(root);
      sharks.push({
        manta_storage_id: id(n),
        datacenter: `dc${n % 2}`,
        root,
        capacityBytes: 100 * MIB,
      });
    }
    si = await startStorinfo({ sharks, log: silent });
  });

  after(async () => {
    await si.close();
    await rm(base, { recursive: true, force: true });
  });

  test('whole list, numerically sorted, bare array, no Link', async () => {
    const p = await get(`${si.url}/storagenodes`);
    assert.equal(p.status, 200);
    assert.deepEqual(ids(p), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(id));
    assert.equal(p.link, null);
    const all = await get(`${si.url}/storagenodes?limit=100&after_id=`);
    assert.deepEqual(ids(all), ids(p));
    assert.equal(all.link, null);
  });

  test('records are shaped as minnow writes them', async () => {
    const p = await get(`${si.url}/storagenodes/${id(3)}`);
    assert.equal(p.status, 200);
    const n = p.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(n), [
      'availableMB',
      'percentUsed',
      'filesystem',
      'statvfs',
      'timestamp',
      'hostname',
      'datacenter',
      'server_uuid',
      'zone_uuid',
      'manta_compute_id',
      'manta_storage_id',
    ]);
    assert.equal(n.availableMB, 100);
    assert.equal(n.percentUsed, 0);
    assert.equal(n.filesystem, join(base, '3'));
    assert.equal(n.datacenter, 'dc1');
    assert.equal(n.manta_compute_id, '3.cn.test.joyent.us');
    assert.ok(Number.isInteger(n.timestamp) && (n.timestamp as number) > 1.5e12);
    assert.equal((await get(`${si.url}/storagenodes/${id(99)}`)).status, 404);
  });

  test('paging: after_id cursor and Link rel="next" until the end', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let url: string | undefined = `${si.url}/storagenodes?limit=5&after_id=`;
    while (url !== undefined) {
      const p = await get(url);
      assert.equal(p.status, 200);
      seen.push(...ids(p));
      sizes.push(ids(p).length);
      const m = p.link === null ? null : /^<([^>]+)>; rel="next"$/.exec(p.link);
      if (p.link !== null) assert.ok(m, p.link);
      url = m?.[1];
    }
    assert.deepEqual(sizes, [5, 5, 2]);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(id));
    const first = await get(`${si.url}/storagenodes?limit=5`);
    assert.equal(
      first.link,
      `<${si.url}/storagenodes?after_id=${encodeURIComponent(id(5))}&limit=5>; rel="next"`,
    );
    // 10.stor follows 9.stor when paging by cursor.
    assert.deepEqual(ids(await get(`${si.url}/storagenodes?limit=2&after_id=${id(9)}`)), [
      id(10),
      id(11),
    ]);
  });

  test('the 404 rule and the empty last page', async () => {
    const last = await get(`${si.url}/storagenodes?after_id=${id(12)}`);
    assert.equal(last.status, 200);
    assert.deepEqual(last.body, []);
    // Unknown cursor greater (as a string) than the last id → 404.
    assert.equal((await get(`${si.url}/storagenodes?after_id=${id(99)}`)).status, 404);
    // Unknown cursor within range: placed at the first id greater as a string...
    const placed = await get(`${si.url}/storagenodes?limit=2&after_id=1.stor.aaa`);
    assert.equal(placed.status, 200);
    assert.deepEqual(ids(placed), [id(1), id(2)]);
    // ...which under the numeric order mis-places some cursors, as the real storinfo does
    // (peers.md §1.4 [DISCREPANCY]): '2.stor…' is the first id greater than '10.stor.zzz'.
    assert.deepEqual(ids(await get(`${si.url}/storagenodes?limit=2&after_id=10.stor.zzz`)), [
      id(2),
      id(3),
    ]);
    // and "past the last id" is a string comparison with the numerically last one.
    assert.equal((await get(`${si.url}/storagenodes?after_id=3.stor.aaa`)).status, 404);
  });

  test('limit bounds and unknown parameters → 400', async () => {
    assert.equal(ids(await get(`${si.url}/storagenodes?limit=1`)).length, 1);
    assert.equal(ids(await get(`${si.url}/storagenodes?limit=500`)).length, 12);
    for (const q of [
      'limit=0',
      'limit=501',
      'limit=abc',
      'limit=1.5',
      'limit=',
      'limit=-1',
      'limit=2&limit=3',
    ]) {
      const p = await get(`${si.url}/storagenodes?${q}`);
      assert.equal(p.status, 400, q);
      assert.deepEqual(p.body, { code: 'BadRequest', message: 'Invalid parameter: limit' });
    }
    const p = await get(`${si.url}/storagenodes?limit=5&marker=x`);
    assert.equal(p.status, 400);
    assert.deepEqual(p.body, { code: 'BadRequest', message: 'Invalid parameter: marker' });
  });

  test('capacity reflects bytes written to the directory after /flush', async () => {
    await writeFile(join(base, '4', 'obj'), Buffer.alloc(2 * MIB));
    await mkdir(join(base, '4', 'v2', 'deep'), { recursive: true });
    await writeFile(join(base, '4', 'v2', 'deep', 'obj'), '');
    await truncate(join(base, '4', 'v2', 'deep', 'obj'), 28 * MIB);
    const before = (await get(`${si.url}/storagenodes/${id(4)}`)).body as StorageNodeRecord;
    assert.equal(before.availableMB, 100, 'unchanged until the next poll');
    const flush = await fetch(`${si.url}/flush`, { method: 'POST' });
    assert.equal(flush.status, 200);
    assert.equal(await flush.text(), '');
    const now = (await get(`${si.url}/storagenodes/${id(4)}`)).body as StorageNodeRecord;
    assert.equal(now.availableMB, 70);
    assert.equal(now.percentUsed, 30);
    await writeFile(join(base, '4', 'odd'), Buffer.alloc(1));
    await si.flush();
    const odd = (await get(`${si.url}/storagenodes/${id(4)}`)).body as StorageNodeRecord;
    assert.equal(odd.availableMB, 69, 'floor of free MiB');
    assert.equal(odd.percentUsed, 31, 'ceil of percent used');
  });

  test('nodes above the 92% fill threshold are hidden', async () => {
    await writeFile(join(base, '5', 'a'), '');
    await truncate(join(base, '5', 'a'), 92 * MIB);
    await si.flush();
    assert.equal(
      ((await get(`${si.url}/storagenodes/${id(5)}`)).body as StorageNodeRecord).percentUsed,
      92,
    );
    await writeFile(join(base, '5', 'b'), Buffer.alloc(1));
    await si.flush();
    assert.equal((await get(`${si.url}/storagenodes/${id(5)}`)).status, 404);
    assert.ok(!ids(await get(`${si.url}/storagenodes`)).includes(id(5)));
    assert.equal(si.sharks().find((s) => s.manta_storage_id === id(5))?.listed, false);
    await rm(join(base, '5', 'b'));
    await si.flush();
    assert.equal((await get(`${si.url}/storagenodes/${id(5)}`)).status, 200);
  });

  test('stale heartbeat (admin endpoint) hides a node at the next poll', async () => {
    const url = `${si.url}/_sandbox/sharks/${id(6)}`;
    const r = await fetch(url, { method: 'PUT', body: JSON.stringify({ heartbeat: 'stale' }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { heartbeat: string }).heartbeat, 'stale');
    assert.equal((await get(`${si.url}/storagenodes/${id(6)}`)).status, 200, 'cached until polled');
    await fetch(`${si.url}/flush`, { method: 'POST' });
    assert.equal((await get(`${si.url}/storagenodes/${id(6)}`)).status, 404);
    await fetch(url, { method: 'PUT', body: JSON.stringify({ heartbeat: 'live' }) });
    await si.flush();
    assert.equal((await get(`${si.url}/storagenodes/${id(6)}`)).status, 200);
  });

  test('admin validation; a removed node disappears at flush', async () => {
    const bad = await fetch(`${si.url}/_sandbox/sharks/${id(7)}`, {
      method: 'PUT',
      body: JSON.stringify({ heartbeat: 'dead' }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'BadRequest');
    const notJson = await fetch(`${si.url}/_sandbox/sharks/${id(7)}`, { method: 'PUT', body: '{' });
    assert.equal(notJson.status, 400);
    await notJson.body?.cancel();
    const unknown = await fetch(`${si.url}/_sandbox/sharks/${id(77)}`, {
      method: 'PUT',
      body: JSON.stringify({ heartbeat: 'stale' }),
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const badShark = await fetch(`${si.url}/_sandbox/sharks`, {
      method: 'POST',
      body: JSON.stringify({
        manta_storage_id: 'evil.com/x',
        datacenter: 'd',
        root: base,
        capacityBytes: 1,
      }),
    });
    assert.equal(badShark.status, 400);
    await badShark.body?.cancel();

    const del = await fetch(`${si.url}/_sandbox/sharks/${id(7)}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await get(`${si.url}/storagenodes/${id(7)}`)).status, 200, 'cached until flush');
    await fetch(`${si.url}/flush`, { method: 'POST' });
    assert.equal((await get(`${si.url}/storagenodes/${id(7)}`)).status, 404);
    si.addShark({
      manta_storage_id: id(7),
      datacenter: 'dc1',
      root: join(base, '7'),
      capacityBytes: 100 * MIB,
    });
    await si.flush();
    assert.equal((await get(`${si.url}/storagenodes/${id(7)}`)).status, 200);
  });

  test('faults: forced status, malformed body, missing field', async () => {
    si.setFaults({ status: 503 });
    assert.equal((await get(`${si.url}/storagenodes`)).status, 503);
    si.setFaults({ body: 'malformed-json' });
    const malformed = await get(`${si.url}/storagenodes`);
    assert.equal(malformed.status, 200);
    assert.equal(typeof malformed.body, 'string', 'body does not parse as JSON');
    const r = await fetch(`${si.url}/_sandbox/faults`, {
      method: 'PUT',
      body: JSON.stringify({ body: 'missing-field' }),
    });
    assert.equal(r.status, 200);
    await r.body?.cancel();
    const missing = (await get(`${si.url}/storagenodes`)).body as Record<string, unknown>[];
    assert.ok(missing.length > 0 && missing.every((n) => !('timestamp' in n)));
    const bad = await fetch(`${si.url}/_sandbox/faults`, { method: 'PUT', body: '{"status":200}' });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    si.setFaults({});
    assert.equal((await get(`${si.url}/storagenodes`)).status, 200);
  });
});

describe('storinfo stand-in: heartbeat lag and thresholds', () => {
  test('a frozen heartbeat drops out once older than lag; custom fill threshold', async () => {
    const base = await mkdtemp(join(tmpdir(), 'storinfo-lag-'));
    const si = await startStorinfo({
      sharks: [
        {
          manta_storage_id: id(1),
          datacenter: 'a',
          root: join(base, '1'),
          capacityBytes: 10 * MIB,
        },
        {
          manta_storage_id: '127.0.0.1:9',
          datacenter: 'b',
          root: join(base, 'x'),
          capacityBytes: 10 * MIB,
        },
      ],
      lagMs: 50,
      maxOperatorUtilizationPct: 40,
      log: silent,
    });
    try {
      assert.deepEqual(
        si.nodes().map((n) => n.manta_storage_id),
        [id(1), '127.0.0.1:9'],
      );
      si.setHeartbeat(id(1), 'frozen');
      await sleep(120);
      await si.flush();
      assert.deepEqual(
        si.nodes().map((n) => n.manta_storage_id),
        ['127.0.0.1:9'],
      );
      await mkdir(join(base, 'x'));
      await writeFile(join(base, 'x', 'f'), Buffer.alloc(5 * MIB));
      await si.flush();
      assert.deepEqual(si.nodes(), [], '50% used is over the 40% threshold');
    } finally {
      await si.close();
      await rm(base, { recursive: true, force: true });
    }
  });

  test('empty fleet: after_id= gives [] rather than failing', async () => {
    const si = await startStorinfo({ sharks: [], log: silent });
    try {
      const p = await get(`${si.url}/storagenodes?limit=100&after_id=`);
      assert.equal(p.status, 200);
      assert.deepEqual(p.body, []);
      assert.equal((await get(`${si.url}/nope`)).status, 404);
    } finally {
      await si.close();
    }
  });
});
