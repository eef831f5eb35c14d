/**
 * Discovery over real Fast RPC: MorayClient ↔ a Fast server answering `sql` from a
 * Moray-layout table as Moray does (one DATA frame per raw row), and the operator CLI.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DiscoveryShardError, discoverObjects } from '../../src/discovery/index.ts';
import { main } from '../../src/discovery/main.ts';
import { FastServer } from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createMantaTable, isWindow, type SeededRow, SHARK, seedShard } from './fixtures.ts';

const log = createLogger({ name: 'test', level: 'silent' });

interface SqlShard {
  server: FastServer;
  port: number;
  windows: number;
}

async function startSqlShard(
  tdb: TestDatabase,
  failAfterWindows = Number.POSITIVE_INFINITY,
): Promise<SqlShard> {
  const server = new FastServer({ log, closeTimeoutMs: 100 });
  const shard = { server, port: 0, windows: 0 };
  server.register('sql', async (rpc) => {
    const [statement, values] = rpc.args as [string, unknown[]];
    if (isWindow(statement) && ++shard.windows > failAfterWindows) {
      // The shard goes away: drop every connection.
      await server.close();
      return;
    }
    const { rows } = await tdb.db.query(statement, values);
    for (const row of rows) await rpc.write(row);
  });
  shard.port = (await server.listen(0)).port;
  return shard;
}

describe('discovery over Fast', () => {
  let tdb: TestDatabase;
  let rows: SeededRow[];
  before(async () => {
    tdb = await createTestDatabase();
    await createMantaTable(tdb.db);
    rows = await seedShard(tdb.db, 1, { objects: 40, seed: 4242 });
  });
  after(async () => {
    await tdb.drop();
  });
  const expectedKeys = () =>
    rows
      .filter((r) => r.expect === 'object' || r.expect === 'excluded')
      .map((r) => r.key)
      .sort();

  test('MorayClient sql → exactly the objects on the shark', async () => {
    const shard = await startSqlShard(tdb);
    const client = new MorayClient({ host: '127.0.0.1', port: shard.port, log });
    try {
      const keys: string[] = [];
      for await (const e of discoverObjects({
        shark: SHARK,
        shards: [{ shard: 1, mode: 'moray', client }],
        chunkSize: 6,
      })) {
        if (e.kind === 'object') keys.push(e.key);
      }
      assert.deepEqual(keys.sort(), expectedKeys());
      assert.ok(shard.windows > 3);
    } finally {
      await client.close();
      await shard.server.close();
    }
  });

  test('a shard going down mid-scan fails discovery naming the shard and window', async () => {
    const shard = await startSqlShard(tdb, 2);
    const client = new MorayClient({
      host: '127.0.0.1',
      port: shard.port,
      log,
      connectTimeoutMs: 500,
      reconnect: { minDelayMs: 5, maxDelayMs: 10 },
    });
    try {
      await assert.rejects(
        (async () => {
          for await (const _ of discoverObjects({
            shark: SHARK,
            shards: [{ shard: 7, mode: 'moray', client }],
            chunkSize: 6,
            retries: 1,
            retryDelayMs: 1,
          })) {
            // consume
          }
        })(),
        (err: unknown) => {
          assert.ok(err instanceof DiscoveryShardError, String(err));
          assert.equal(err.shard, 7);
          assert.match(err.message, /shard 7 failed at _id 3\.\.6 after 2 attempt/);
          return true;
        },
      );
    } finally {
      await client.close();
      await shard.server.close();
    }
  });

  test('CLI lists the objects as JSON lines', async () => {
    const shard = await startSqlShard(tdb);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    stderr.resume();
    try {
      const code = await main(
        [
          '--shark',
          SHARK,
          '--shard',
          `1=tcp://127.0.0.1:${shard.port}`,
          '--chunk-size',
          '8',
          '--log-level',
          'silent',
        ],
        { stdout, stderr },
      );
      assert.equal(code, 0);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.key).sort(), expectedKeys());
      for (const l of lines) {
        assert.deepEqual(Object.keys(l).sort(), [
          'etag',
          'id',
          'key',
          'rowId',
          'shard',
          'shark',
          'value',
        ]);
      }
      // With the rebalancer's default exclusions the /stor/logs/ objects are left out.
      out = '';
      const code2 = await main(
        [
          '--shark',
          SHARK,
          '--shard',
          `1=tcp://127.0.0.1:${shard.port}`,
          '--exclude-defaults',
          '--object-id-only',
          '--log-level',
          'silent',
        ],
        { stdout, stderr },
      );
      assert.equal(code2, 0);
      const ids = out.trim().split('\n').sort();
      assert.deepEqual(
        ids,
        rows
          .filter((r) => r.expect === 'object')
          .map((r) => r.objectId)
          .sort(),
      );
    } finally {
      await shard.server.close();
    }
  });

  test('CLI direct-db mode reads the shard database (real PostgreSQL only)', async (t) => {
    if (tdb.url === undefined) {
      t.skip('needs REBALANCER_TEST_PG_URL: PGlite has no connection URL');
      return;
    }
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    stderr.resume();
    const code = await main(
      ['--shark', SHARK, '--shard', `1=${tdb.url}`, '--log-level', 'silent'],
      {
        stdout,
        stderr,
      },
    );
    assert.equal(code, 0);
    const keys = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).key)
      .sort();
    assert.deepEqual(keys, expectedKeys());
  });

  test('CLI usage errors exit 2', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.resume();
    stderr.resume();
    assert.equal(await main(['--shark', SHARK], { stdout, stderr }), 2);
    assert.equal(await main(['--shard', '1=tcp://x:1'], { stdout, stderr }), 2);
    assert.equal(await main(['--shark', SHARK, '--shard', 'x'], { stdout, stderr }), 2);
  });
});
