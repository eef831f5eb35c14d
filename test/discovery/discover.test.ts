import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../../src/db/index.ts';
import {
  type Checkpoint,
  DEFAULT_EXCLUDE_KEY_PREFIXES,
  type DiscoveryEvent,
  type DiscoveryOptions,
  DiscoveryShardError,
  discoverObjects,
  type MoraySqlClient,
  type ShardCheckpoints,
  type ShardSource,
  type StreamingDatabase,
} from '../../src/discovery/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  createMantaTable,
  isWindow,
  type SeededRow,
  SHARK,
  seedShard,
  tableMoray,
} from './fixtures.ts';

const SHARDS = [1, 2, 3];

interface Shard {
  number: number;
  tdb: TestDatabase;
  rows: SeededRow[];
}

async function collect(options: DiscoveryOptions): Promise<DiscoveryEvent[]> {
  const events: DiscoveryEvent[] = [];
  for await (const e of discoverObjects(options)) events.push(e);
  return events;
}

const expected = (shards: Shard[], kind: SeededRow['expect']) =>
  shards
    .flatMap((s) =>
      s.rows.filter((r) => r.expect === kind).map((r) => `${s.number} ${r.key} ${r.etag}`),
    )
    .sort();

const got = (events: DiscoveryEvent[], kind: 'object' | 'excluded' | 'malformed') =>
  events
    .filter((e) => e.kind === kind)
    .map((e) => {
      if (e.kind === 'object') return `${e.shard} ${e.key} ${e.etag}`;
      return e.kind === 'checkpoint' || e.kind === 'buckets-checkpoint'
        ? ''
        : `${e.shard} ${e.key}`;
    })
    .sort();

describe('discovery', () => {
  const shards: Shard[] = [];
  before(async () => {
    for (const number of SHARDS) {
      const tdb = await createTestDatabase();
      // Shard 2 is an older migrated table: INTEGER _id plus an _idx column in use.
      await createMantaTable(tdb.db, number === 2 ? { idx: true, intId: true } : {});
      const rows = await seedShard(tdb.db, number, {
        objects: 60,
        seed: number * 7919,
        malformed: true,
        ...(number === 2 ? { idxRows: 6, bothIdRows: 4 } : {}),
      });
      shards.push({ number, tdb, rows });
    }
  });
  after(async () => {
    for (const s of shards) await s.tdb.drop();
  });

  const moraySources = (
    wrap?: (shard: number, c: MoraySqlClient) => MoraySqlClient,
  ): ShardSource[] =>
    shards.map((s) => {
      const client = tableMoray(s.tdb.db);
      return { shard: s.number, mode: 'moray', client: wrap ? wrap(s.number, client) : client };
    });
  const directSources = (
    wrap?: (shard: number, db: Database) => StreamingDatabase,
  ): ShardSource[] =>
    shards.map((s) => ({
      shard: s.number,
      mode: 'direct-db',
      db: wrap ? wrap(s.number, s.tdb.db) : s.tdb.db,
    }));

  for (const mode of ['moray', 'direct-db'] as const) {
    const sources = () => (mode === 'moray' ? moraySources() : directSources());

    test(`${mode}: exactly the seeded objects, excluded ones reported, malformed ones reported by key`, async () => {
      const events = await collect({
        shark: SHARK,
        shards: sources(),
        chunkSize: 7,
        batchSize: 5,
        concurrency: 2,
        bufferSize: 3,
        excludeKeyPrefixes: DEFAULT_EXCLUDE_KEY_PREFIXES,
      });
      assert.deepEqual(got(events, 'object'), expected(shards, 'object'));
      assert.ok(expected(shards, 'object').length > 20, 'the fixture has objects on the shark');
      assert.deepEqual(
        got(events, 'excluded'),
        expected(shards, 'excluded').map((k) => k.replace(/ \S+$/, '')),
      );
      assert.ok(expected(shards, 'excluded').length > 0);
      assert.deepEqual(
        got(events, 'malformed'),
        expected(shards, 'malformed').map((k) => k.replace(/ \S+$/, '')),
      );
      for (const e of events) {
        if (e.kind === 'object') {
          assert.equal(e.shark, SHARK);
          assert.equal(e.value.key, e.key);
          assert.equal(e.id, e.value.objectId);
          assert.ok(e.value.sharks.some((s) => s.manta_storage_id === SHARK));
          const seeded = shards
            .find((s) => s.number === e.shard)
            ?.rows.find((r) => r.key === e.key);
          assert.equal(e.rowId, seeded?.rowId);
        }
        if (e.kind === 'excluded') assert.equal(e.prefix, '/stor/logs/');
        if (e.kind === 'malformed') assert.match(e.problem, /field (_value|sharks|contentLength)/);
      }
      // Every shard and column ends with a done checkpoint, after all its other events.
      for (const n of SHARDS) {
        const mine = events.filter((e) => e.shard === n);
        for (const column of ['_id', '_idx'] as const) {
          const cps = mine.filter(
            (e): e is Checkpoint => e.kind === 'checkpoint' && e.column === column,
          );
          assert.equal(cps.at(-1)?.done, true, `shard ${n} ${column} done`);
        }
        const lastCp = mine.findLastIndex((e) => e.kind === 'checkpoint');
        assert.equal(lastCp, mine.length - 1);
      }
    });

    test(`${mode}: no exclusion with ["none"] or []`, async () => {
      for (const excludeKeyPrefixes of [['none'], []]) {
        const events = await collect({
          shark: SHARK,
          shards: sources(),
          chunkSize: 50,
          excludeKeyPrefixes,
        });
        assert.deepEqual(
          got(events, 'object'),
          [...expected(shards, 'object'), ...expected(shards, 'excluded')].sort(),
        );
        assert.equal(got(events, 'excluded').length, 0);
      }
    });

    test(`${mode}: resumes from checkpoints without losing objects`, async () => {
      const checkpoints = new Map<number, ShardCheckpoints>();
      const before = new Set<string>();
      const pending: string[] = [];
      let seen = 0;
      for await (const e of discoverObjects({
        shark: SHARK,
        shards: sources(),
        chunkSize: 9,
        batchSize: 9,
        concurrency: 3,
        bufferSize: 1,
      })) {
        if (e.kind === 'object') pending.push(`${e.shard} ${e.key} ${e.etag}`);
        if (e.kind === 'checkpoint') {
          // Everything before a checkpoint is "stored" only when its checkpoint is.
          const cp = checkpoints.get(e.shard) ?? {};
          cp[e.column] = {
            ...(e.through === undefined ? {} : { through: e.through }),
            done: e.done,
          };
          checkpoints.set(e.shard, cp);
          for (const k of pending.filter((p) => p.startsWith(`${e.shard} `))) before.add(k);
          pending.splice(0, pending.length, ...pending.filter((p) => !p.startsWith(`${e.shard} `)));
        }
        if (++seen === 25) break;
      }
      assert.ok(checkpoints.size > 0);
      const resumed = await collect({
        shark: SHARK,
        shards: sources(),
        chunkSize: 9,
        batchSize: 9,
        checkpoints,
      });
      const again = got(resumed, 'object');
      for (const k of again)
        assert.ok(!before.has(k), `${k} was before a checkpoint, not rescanned`);
      // No exclusion here: the /stor/logs/ objects are ordinary objects.
      assert.deepEqual(
        [...before, ...again].sort(),
        [...expected(shards, 'object'), ...expected(shards, 'excluded')].sort(),
      );
    });

    test(`${mode}: a shard that keeps failing fails discovery, naming the shard and window`, async () => {
      let calls = 0;
      const broken =
        mode === 'moray'
          ? moraySources((n, c) =>
              n !== 2
                ? c
                : {
                    async *sql(statement, values, opts) {
                      if (isWindow(statement) && ++calls > 2) {
                        throw new Error('connection reset by peer');
                      }
                      yield* c.sql(statement, values, opts);
                    },
                  },
            )
          : directSources((n, db) =>
              n !== 2
                ? db
                : {
                    query: (t, p) => db.query(t, p),
                    async *stream(text, params, options) {
                      // The server goes away for good after 10 rows.
                      for await (const r of db.stream(text, params, options)) {
                        if (++calls > 10)
                          throw new Error('server closed the connection unexpectedly');
                        yield r as never;
                      }
                    },
                  },
            );
      const events: DiscoveryEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const e of discoverObjects({
            shark: SHARK,
            shards: broken,
            chunkSize: 7,
            batchSize: 4,
            retries: 2,
            retryDelayMs: 1,
          })) {
            events.push(e);
          }
        })(),
        (err: unknown) => {
          assert.ok(err instanceof DiscoveryShardError, String(err));
          assert.equal(err.shard, 2);
          assert.equal(err.column, '_id');
          assert.equal(err.attempts, 3);
          assert.match(err.message, /shard 2 failed at _id/);
          assert.match(err.message, /connection reset by peer|closed the connection/);
          if (mode === 'moray') assert.match(err.message, /_id 3\.\.6/);
          else assert.match(err.message, /at _id > \d+ after 3 attempt/);
          return true;
        },
      );
      // Nothing claims shard 2 is complete.
      assert.ok(
        !events.some(
          (e) => e.kind === 'checkpoint' && e.shard === 2 && e.done && e.column === '_id',
        ),
      );
    });

    test(`${mode}: a transient failure is retried without duplicates`, async () => {
      let failed = false;
      const flaky =
        mode === 'moray'
          ? moraySources((n, c) =>
              n !== 1
                ? c
                : {
                    async *sql(statement, values, opts) {
                      let rows = 0;
                      for await (const r of c.sql(statement, values, opts)) {
                        if (!failed && isWindow(statement) && ++rows === 3) {
                          failed = true;
                          throw new Error('transient');
                        }
                        yield r;
                      }
                    },
                  },
            )
          : directSources((n, db) =>
              n !== 1
                ? db
                : {
                    query: (t, p) => db.query(t, p),
                    async *stream(text, params, options) {
                      let rows = 0;
                      for await (const r of db.stream(text, params, options)) {
                        if (!failed && ++rows === 17) {
                          failed = true;
                          throw new Error('transient');
                        }
                        yield r as never;
                      }
                    },
                  },
            );
      const d = discoverObjects({
        shark: SHARK,
        shards: flaky,
        chunkSize: 7,
        batchSize: 4,
        retryDelayMs: 1,
      });
      const events: DiscoveryEvent[] = [];
      for await (const e of d) events.push(e);
      assert.ok(failed);
      const objects = got(events, 'object');
      assert.deepEqual(objects, [...new Set(objects)], 'no duplicates');
      assert.deepEqual(
        objects,
        expected(shards, 'object').concat(expected(shards, 'excluded')).sort(),
      );
      assert.equal(d.stats().get(1)?.retries, 1);
    });
  }

  test('moray mode uses sharkspotter statements (used columns only) and options', async () => {
    const calls: { statement: string; options: unknown }[] = [];
    const s = shards[0] as Shard;
    const inner = tableMoray(s.tdb.db);
    const client: MoraySqlClient = {
      sql(statement, values, options) {
        calls.push({ statement, options });
        return inner.sql(statement, values, options);
      },
    };
    await collect({ shark: SHARK, shards: [{ shard: 1, mode: 'moray', client }], chunkSize: 1000 });
    assert.deepEqual(calls[0], {
      statement: 'SELECT MAX(_id) FROM manta;',
      options: { limit: 1, no_count: true },
    });
    // The windows, contiguous from 0, the first a sixteenth of the chunk (ids 0..61).
    const windows = calls.slice(1, -1);
    let next = 0;
    for (const w of windows) {
      const m =
        /^SELECT _id, _key, _value, _etag FROM manta WHERE _id >= (\d+) AND _id <= (\d+) AND type = 'object' limit 1000;$/.exec(
          w.statement,
        );
      assert.ok(m, w.statement);
      assert.equal(Number(m[1]), next);
      next = Number(m[2]) + 1;
      assert.deepEqual(w.options, { timeout: 10_000, timeoutMs: 20_000 });
    }
    assert.match(windows[0]?.statement ?? '', /_id >= 0 AND _id <= 61 /);
    // Shard 1 has no _idx column: the error is recognised, nothing more is asked.
    assert.deepEqual(calls.at(-1), {
      statement: 'SELECT MAX(_idx) FROM manta;',
      options: { limit: 1, no_count: true },
    });
  });

  test('a slow consumer slows the scan (backpressure)', async () => {
    const s = shards[0] as Shard;
    const client = tableMoray(s.tdb.db);
    const iterator = discoverObjects({
      shark: SHARK,
      shards: [{ shard: 1, mode: 'moray', client }],
      chunkSize: 1,
      bufferSize: 2,
    })[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    // Give the scanner every chance to run ahead; it must block on the full buffer.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    const windows = client.statements.filter(isWindow).length;
    const total = Number(s.rows.at(-1)?.rowId ?? 0);
    assert.ok(windows < 10, `scanner ran ahead: ${windows} windows of ${total}`);
    await iterator.return?.();
  });

  test('an empty table yields only done checkpoints', async () => {
    const tdb = await createTestDatabase();
    try {
      await createMantaTable(tdb.db);
      for (const source of [
        { shard: 9, mode: 'moray', client: tableMoray(tdb.db) },
        { shard: 9, mode: 'direct-db', db: tdb.db },
      ] as ShardSource[]) {
        const events = await collect({ shark: SHARK, shards: [source] });
        assert.deepEqual(events, [
          { kind: 'checkpoint', shard: 9, column: '_id', through: undefined, done: true },
          { kind: 'checkpoint', shard: 9, column: '_idx', through: undefined, done: true },
        ]);
      }
    } finally {
      await tdb.drop();
    }
  });

  test('refuses duplicate shards and bad sizes', () => {
    const s = shards[0] as Shard;
    const src: ShardSource = { shard: 1, mode: 'direct-db', db: s.tdb.db };
    assert.throws(() => discoverObjects({ shark: SHARK, shards: [src, src] }), /listed twice/);
    assert.throws(() => discoverObjects({ shark: SHARK, shards: [src], chunkSize: 0 }), RangeError);
  });
});
