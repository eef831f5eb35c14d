/**
 * The manager's discovery as configured: Moray RPC (default) or, with `direct_db`, each shard's
 * PostgreSQL clone. Both must find the same objects. Direct-db mode reads a PostgreSQL server,
 * so it needs real PostgreSQL (REBALANCER_TEST_PG_URL, as CI sets); PGlite has no server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import { type ManagerConfig, parseConfig } from '../../src/manager/config.ts';
import { createEnvironment } from '../../src/manager/environment.ts';
import type { Placement } from '../../src/manager/jobs/evacuate/types.ts';
import { ManagerMetrics } from '../../src/manager/metrics.ts';
import { reloadConfig } from '../../src/manager/reload.ts';
import type { JobRecord } from '../../src/manager/store/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import {
  createMantaBuckets,
  type MorayShard,
  startMorayShard,
} from '../../src/sandbox/moray/index.ts';
import { objectRecord } from '../../src/sandbox/seed/record.ts';
import { createTestDatabase, type TestDatabase, testPostgresUrl } from '../support/database.ts';

const log = createLogger({ name: 'environment-test', level: 'silent' });
const EVACUATED = { manta_storage_id: '1.stor.env.example', datacenter: 'dc1' };
const OTHER = { manta_storage_id: '2.stor.env.example', datacenter: 'dc2' };
const THIRD = { manta_storage_id: '3.stor.env.example', datacenter: 'dc2' };

describe('manager discovery: moray and direct-db find the same objects', {
  skip: testPostgresUrl() === undefined && 'direct-db discovery needs REBALANCER_TEST_PG_URL',
}, () => {
  let tdb: TestDatabase;
  let shard: MorayShard;
  const expected = new Set<string>();

  before(async () => {
    tdb = await createTestDatabase();
    await createMantaBuckets(tdb.db);
    shard = await startMorayShard({ db: tdb.db, log });
    const moray = new MorayClient({ host: shard.host, port: shard.port, log });
    try {
      for (let i = 0; i < 40; i++) {
        const objectId = randomUUID();
        const owner = randomUUID();
        // Every other object has a copy on the evacuated shark.
        const sharks = i % 2 === 0 ? [EVACUATED, OTHER] : [OTHER, THIRD];
        const record = objectRecord({
          owner,
          dirname: `/${owner}/stor`,
          name: `o${i}`,
          objectId,
          contentLength: 10,
          contentMD5: 'xMpCOKC5I4INzFCab3WEmw==',
          sharks,
          mtime: 1_700_000_000_000,
        });
        await moray.putObject('manta', record.key, record);
        if (i % 2 === 0) expected.add(objectId);
      }
    } finally {
      await moray.close();
    }
  });
  after(async () => {
    await shard?.close();
    await tdb?.drop();
  });

  async function discovered(directDb: boolean): Promise<Set<string>> {
    const config = parseConfig({
      domain_name: 'env.example',
      shards: [{ host: '1.moray.env.example' }],
      direct_db: directDb,
      direct_db_urls: { 1: tdb.url },
      // Direct-db mode must not need Moray at all: its Moray address leads nowhere.
      host_aliases: {
        '1.moray.env.example:2020': directDb ? '127.0.0.1:1' : `${shard.host}:${shard.port}`,
      },
      storinfo_url: 'http://127.0.0.1:1',
    });
    const env = createEnvironment(config, new ManagerMetrics({ service: 'test' }), log);
    const ids = new Set<string>();
    try {
      for await (const event of env.source.scan({
        shark: EVACUATED,
        resume: [],
        signal: new AbortController().signal,
      })) {
        if (event.kind === 'object') ids.add(event.object.id);
      }
    } finally {
      await env.close();
    }
    return ids;
  }

  test('each mode finds exactly the objects with a copy on the shark', async () => {
    const viaMoray = await discovered(false);
    const viaClone = await discovered(true);
    assert.deepEqual([...viaMoray].sort(), [...expected].sort());
    assert.deepEqual([...viaClone].sort(), [...expected].sort());
  });
});

/**
 * Placement through the environment's chooser, over a real storinfo HTTP endpoint: the
 * blocklists are honoured, and a running job's chooser follows a reload (live keys).
 */
describe('manager placement: blocklists and live settings through the chooser', () => {
  const node = (n: number, datacenter: string) => ({
    manta_storage_id: `${n}.stor.env.example`,
    datacenter,
    availableMB: 500_000,
    percentUsed: 20,
    filesystem: '/manta',
    timestamp: Date.now(),
  });
  const nodes = [node(1, 'dc1'), node(2, 'dc1'), node(3, 'dc1'), node(4, 'dc2'), node(5, 'dc2')];
  let storinfo: Server;
  let url: string;

  before(async () => {
    storinfo = createServer((req, res) => {
      // One page: the first request has no cursor, a later one would be past the end.
      const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after_id');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(after ? [] : nodes));
    });
    await new Promise<void>((resolve) => storinfo.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(storinfo.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => storinfo.close(resolve));
  });

  const raw = (extra: Record<string, unknown>) => ({
    domain_name: 'env.example',
    shards: [{ host: '1.moray.env.example' }],
    host_aliases: { '1.moray.env.example:2020': '127.0.0.1:1' },
    storinfo_url: url,
    ...extra,
  });
  const job = {
    id: randomUUID(),
    fromShark: { manta_storage_id: '1.stor.env.example', datacenter: 'dc1' },
  } as JobRecord;

  /** Where `n` objects (copies only on the evacuated shark) are placed. */
  function placements(choose: (o: { id: string }) => Placement, n: number): Set<string> {
    const chosen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const p = choose({ id: randomUUID() });
      chosen.add(p.outcome === 'placed' ? p.shark.manta_storage_id : p.outcome);
    }
    return chosen;
  }

  test('a blocked shark or datacenter is never chosen, and a reload reaches a running job', async () => {
    let config: ManagerConfig = parseConfig(
      raw({ options: { blocklist: ['2.stor.env.example'], blocked_datacenters: ['dc2'] } }),
    );
    const env = createEnvironment(() => config, new ManagerMetrics({ service: 'test' }), log);
    await env.start();
    try {
      const chooser = env.chooser(job);
      const choose = (o: { id: string }) =>
        chooser.choose(
          { id: o.id, sharks: [job.fromShark], sizeBytes: 1024 },
          { never: new Set(), later: new Set() },
        );
      // Only 3.stor is neither blocked nor in a blocked datacenter.
      assert.deepEqual(placements(choose, 300), new Set(['3.stor.env.example']));

      // The same (running) job's chooser after a reload: other sharks blocked.
      const reload = (extra: Record<string, unknown>) => {
        config = reloadConfig(config, parseConfig(raw(extra))).config;
      };
      reload({ options: { blocklist: ['3.stor.env.example', '4.stor.env.example'] } });
      assert.deepEqual(
        placements(choose, 300),
        new Set(['2.stor.env.example', '5.stor.env.example']),
      );
      // max_sharks: a round's picks rotate over the top `max_sharks` sharks only.
      reload({ options: { blocked_datacenters: ['dc1'], max_sharks: 1 } });
      assert.equal(placements(choose, 100).size, 1);
      reload({ options: { blocked_datacenters: ['dc1'], max_sharks: 2 } });
      assert.deepEqual(
        placements(choose, 100),
        new Set(['4.stor.env.example', '5.stor.env.example']),
      );
      // A fill limit under what the sharks already use (20 %): nowhere to put anything.
      reload({ max_fill_percentage: 15 });
      assert.deepEqual(placements(choose, 10), new Set(['wait']));
      reload({ max_fill_percentage: 100 });
      assert.equal(placements(choose, 10).has('wait'), false);
      chooser.releaseAll();
    } finally {
      await env.close();
    }
  });
});
