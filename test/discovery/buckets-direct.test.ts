/**
 * Buckets direct-db discovery (peers.md §3.4) against real PostgreSQL tables laid out as
 * buckets-mdapi's (PGlite, or the server REBALANCER_TEST_PG_URL names): exactly the rows
 * naming the shark, records mapped with their own headers and properties, vnodes in numeric
 * order, resume from any checkpoint, Moray shard numbers kept apart, failures loud.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import {
  type BucketsCheckpoint,
  BucketsNoVnodesError,
  BucketsResume,
  type DiscoveryEvent,
  type DiscoveryOptions,
  DiscoveryShardError,
  discoverObjects,
  type StreamingDatabase,
} from '../../src/discovery/index.ts';
import { createTestDatabase } from '../support/database.ts';
import {
  type BucketsDatabase,
  createBucketsDatabase,
  expectedValue,
  rowIdOf,
  rowIds,
  type SeededObject,
  SHARK,
  seedVnode,
} from './buckets-fixtures.ts';
import { createMantaTable, SHARK as MORAY_SHARK, seedShard } from './fixtures.ts';

async function collect(options: DiscoveryOptions): Promise<DiscoveryEvent[]> {
  const events: DiscoveryEvent[] = [];
  for await (const e of discoverObjects(options)) events.push(e);
  return events;
}

const checkResume = Compile(BucketsResume);

const checkpoints = (events: readonly DiscoveryEvent[]) =>
  events.filter((e): e is BucketsCheckpoint => e.kind === 'buckets-checkpoint');

interface Shard {
  number: number;
  vnodes: number[];
  bdb: BucketsDatabase;
  objects: SeededObject[];
}

describe('buckets direct-db discovery', () => {
  const shards: Shard[] = [];
  before(async () => {
    // Even vnodes on shard 1, odd on shard 2 (as the reference deployments); 10 sorts after 2.
    for (const [number, vnodes] of [
      [1, [10, 0, 2]],
      [2, [1, 3]],
    ] as const) {
      const bdb = await createBucketsDatabase(vnodes);
      // Schemas named like vnodes that are not: ignored.
      await bdb.db.exec('CREATE SCHEMA manta_bucket_x; CREATE SCHEMA manta_bucket_007;');
      const objects: SeededObject[] = [];
      for (const vnode of vnodes) objects.push(...(await seedVnode(bdb.db, vnode, 24)));
      shards.push({ number, vnodes: [...vnodes], bdb, objects });
    }
  });
  after(async () => {
    for (const s of shards) await s.bdb.drop();
  });

  const sources = (wrap?: (s: Shard) => StreamingDatabase) =>
    shards.map((s) => ({
      shard: s.number,
      mode: 'buckets-direct-db' as const,
      db: wrap ? wrap(s) : s.bdb.db,
    }));
  const expected = (kind: SeededObject['expect'], only = shards) =>
    only.flatMap((s) => s.objects.filter((o) => o.expect === kind).map(rowIdOf)).sort();

  test('exactly the rows naming the shark, each mapped with its headers and properties', async () => {
    const events = await collect({ shark: SHARK, shards: sources(), batchSize: 4 });
    assert.deepEqual(rowIds(events, 'object').sort(), expected('object'));
    assert.ok(expected('object').length >= 20, 'the fixture has objects on the shark');
    assert.deepEqual(rowIds(events, 'malformed').sort(), expected('malformed'));
    const byRow = new Map(shards.flatMap((s) => s.objects.map((o) => [rowIdOf(o), o] as const)));
    let nullHeaderValues = 0;
    for (const e of events) {
      if (e.kind === 'object') {
        assert.equal(e.tier, 'buckets');
        const seeded = byRow.get(e.rowId) as SeededObject;
        assert.deepEqual(e.value, expectedValue(seeded), e.rowId);
        assert.equal(e.key, seeded.name);
        assert.equal(e.etag, seeded.id);
        assert.equal(e.id, seeded.id);
        assert.equal(e.vnode, seeded.vnode);
        assert.equal(e.shark, SHARK);
        assert.equal(e.shard, shards.find((s) => s.vnodes.includes(e.vnode))?.number);
        if (e.value.headers && Object.values(e.value.headers).includes(null)) nullHeaderValues++;
      } else if (e.kind === 'malformed') {
        assert.equal(e.tier, 'buckets');
        assert.match(e.problem, /sharks has an element that is not "dc:storage_id": "no-colon"/);
      }
    }
    assert.ok(nullHeaderValues > 0, 'headers with NULL values were found and kept');
  });

  test('vnodes in numeric order, each ending with a done checkpoint', async () => {
    const events = await collect({ shark: SHARK, shards: sources().slice(0, 1) });
    const done = checkpoints(events).filter((c) => c.done);
    assert.deepEqual(
      done.map((c) => c.vnode),
      [0, 2, 10],
    );
    for (const c of done) assert.equal(c.mode, 'buckets-direct-db');
  });

  test('resuming from any checkpoint yields exactly the rest', async () => {
    const source = sources().slice(0, 1);
    // One row per checkpoint: a checkpoint falls between every two rows sharing a name.
    const full = await collect({ shark: SHARK, shards: source, batchSize: 1 });
    const all = rowIds(full, 'object');
    assert.ok(checkpoints(full).length > 20);
    for (const [i, c] of full.entries()) {
      if (c.kind !== 'buckets-checkpoint') continue;
      // As a consumer stores it and reads it back.
      const stored: unknown = JSON.parse(
        JSON.stringify({ mode: c.mode, vnode: c.vnode, after: c.after, done: c.done }),
      );
      assert.ok(checkResume.Check(stored), JSON.stringify(stored));
      const resume = stored;
      const rest = await collect({
        shark: SHARK,
        shards: source,
        batchSize: 3,
        bucketsCheckpoints: new Map([[1, resume]]),
      });
      assert.deepEqual(rowIds(rest, 'object'), rowIds(full.slice(i + 1), 'object'), `after #${i}`);
    }
    // Same names in other buckets of a vnode were not skipped: every object once.
    assert.equal(new Set(all).size, all.length);
  });

  test('a checkpoint of the RPC listing restarts its vnode (never a gap)', async () => {
    const source = sources().slice(0, 1);
    const after = { owner: 'f'.repeat(8), bucket_id: 'x', name: 'zzz', bucket: 'b' };
    const events = await collect({
      shark: SHARK,
      shards: source,
      bucketsCheckpoints: new Map([[1, { mode: 'buckets-rpc', vnode: 2, after, done: false }]]),
    });
    const shard1 = shards[0] as Shard;
    const wanted = shard1.objects.filter((o) => o.expect === 'object' && o.vnode >= 2);
    assert.deepEqual(rowIds(events, 'object').sort(), wanted.map(rowIdOf).sort());
  });

  test('Moray shard 1 and buckets shard 1 are scanned side by side, apart', async () => {
    const moray = await createTestDatabase();
    try {
      await createMantaTable(moray.db);
      await seedShard(moray.db, 1, { objects: 12, seed: 5 });
      const d = discoverObjects({
        shark: MORAY_SHARK,
        shards: [{ shard: 1, mode: 'direct-db', db: moray.db }, ...sources()],
        concurrency: 3,
      });
      const events: DiscoveryEvent[] = [];
      for await (const e of d) events.push(e);
      assert.ok(events.some((e) => e.kind === 'checkpoint' && e.shard === 1));
      assert.ok(events.some((e) => e.kind === 'buckets-checkpoint' && e.shard === 1));
      // The Moray shark also holds buckets copies ('dc3:3.stor…'): both tiers find objects.
      const objects = events.filter((e) => e.kind === 'object');
      const morayObjects = objects.filter((e) => e.tier === undefined);
      const bucketsObjects = objects.filter((e) => e.tier === 'buckets');
      assert.ok(morayObjects.length > 0 && bucketsObjects.length > 0);
      for (const e of morayObjects) assert.match(e.rowId, /^[0-9]+$/);
      for (const e of bucketsObjects) assert.ok('bucket_id' in e.value);
      assert.throws(
        () => discoverObjects({ shark: SHARK, shards: [...sources(), ...sources()] }),
        /buckets shard 1 listed twice/,
      );
      assert.equal(d.stats().get(1)?.state, 'done');
      assert.equal(d.bucketsStats().get(1)?.state, 'done');
      assert.equal(d.stats().get(1)?.objects, morayObjects.length);
      const perShard = (n: number) => bucketsObjects.filter((e) => e.shard === n).length;
      assert.equal(d.bucketsStats().get(1)?.objects, perShard(1));
      assert.equal(d.bucketsStats().get(2)?.objects, perShard(2));
    } finally {
      await moray.drop();
    }
  });

  /** Shard 2's database, whose streams of vnode 3 fail before row `i` when `fail(i)` says so. */
  const failing =
    (fail: (i: number) => boolean) =>
    (s: Shard): StreamingDatabase => ({
      query: (text, params) => s.bdb.db.query(text, params),
      async *stream(text, params, options) {
        let i = 0;
        for await (const row of s.bdb.db.stream(text, params, options)) {
          if (s.number === 2 && text.includes('manta_bucket_3.') && fail(i++)) {
            throw new Error('connection reset');
          }
          yield row as never;
        }
        if (s.number === 2 && text.includes('manta_bucket_3.') && fail(i)) {
          throw new Error('connection reset');
        }
      },
    });

  test('a transient failure mid-vnode is retried with no duplicate and no gap', async () => {
    let failures = 0;
    // The stream of vnode 3 breaks after its third row, twice; the third try goes through.
    const flaky = failing((i) => i === 3 && failures < 2 && ++failures > 0);
    const d = discoverObjects({
      shark: SHARK,
      shards: sources(flaky),
      batchSize: 2,
      retryDelayMs: 1,
    });
    const events: DiscoveryEvent[] = [];
    for await (const e of d) events.push(e);
    assert.equal(failures, 2);
    assert.deepEqual(rowIds(events, 'object').sort(), expected('object'));
    assert.equal(d.bucketsStats().get(2)?.retries, 2);
  });

  test('a shard that keeps failing ends discovery with DiscoveryShardError', async () => {
    await assert.rejects(
      collect({
        shark: SHARK,
        shards: sources(failing(() => true)),
        retries: 2,
        retryDelayMs: 1,
      }),
      (err: unknown) => {
        assert.ok(err instanceof DiscoveryShardError, String(err));
        assert.equal(err.shard, 2);
        assert.equal(err.tier, 'buckets');
        assert.equal(err.column, 'vnode 3');
        assert.equal(err.attempts, 3);
        assert.match(
          err.message,
          /buckets shard 2 failed at vnode 3 from the start after 3 attempt\(s\): connection reset/,
        );
        return true;
      },
    );
  });

  test('a database without vnode schemas is an error, not an empty result', async () => {
    const empty = await createTestDatabase();
    try {
      await assert.rejects(
        collect({ shark: SHARK, shards: [{ shard: 7, mode: 'buckets-direct-db', db: empty.db }] }),
        (err: unknown) => err instanceof BucketsNoVnodesError && err.shard === 7,
      );
    } finally {
      await empty.drop();
    }
  });
});
