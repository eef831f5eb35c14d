/**
 * The manager's discovery as configured: Moray RPC (default) or, with `direct_db`, each shard's
 * PostgreSQL clone. Both must find the same objects. Direct-db mode reads a PostgreSQL server,
 * so it needs real PostgreSQL (REBALANCER_TEST_PG_URL, as CI sets); PGlite has no server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import { parseConfig } from '../../src/manager/config.ts';
import { createEnvironment } from '../../src/manager/environment.ts';
import { ManagerMetrics } from '../../src/manager/metrics.ts';
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
