/**
 * Buckets RPC listing discovery (peers.md §3.4, `direct_db: false`) against two stand-in
 * buckets-mdapi shards (even and odd vnodes) over real sockets, objects placed by the real
 * placement rule: loud when listvnodes/listowners are unsupported, complete when they are
 * served or configured — objects whose bucket record sits on the other shard included —,
 * resumable from any checkpoint, retried through overload, failing with the shard named.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type BucketsCheckpoint,
  BucketsListingUnsupportedError,
  type BucketsShardSource,
  type DiscoveryEvent,
  type DiscoveryOptions,
  DiscoveryShardError,
  discoverObjects,
} from '../../src/discovery/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { bucketVnode, objectVnode } from '../../src/manta/buckets.ts';
import { MdapiClient, type ObjectResponse } from '../../src/mdapi/index.ts';
import { type MdapiShard, startMdapiShard } from '../../src/sandbox/mdapi/index.ts';
import {
  type BucketsDatabase,
  createBucketsDatabase,
  OWNERS,
  rowIdOf,
  rowIds,
  SHARK,
} from './buckets-fixtures.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const VNODES = 4;
const md5 = 'XUFAKrxLKna5cZ2REBfFkg==';
const copy = (id: string, dc = 'dc1') => ({ datacenter: dc, manta_storage_id: id });
const SHARKS = [
  [copy(SHARK), copy('2.stor.test.example.com', 'dc2')],
  [copy('11.stor.test.example.com'), copy('21.stor.test.example.com')],
  [copy('2.stor.test.example.com'), copy(SHARK, 'us-east-1')],
  [copy(`x:${SHARK}`)],
  [],
  [copy(SHARK)],
];

interface Shard {
  number: number;
  vnodes: number[];
  bdb: BucketsDatabase;
  mdapi: MdapiShard;
  client: MdapiClient;
}

interface Seeded {
  object: ObjectResponse;
  vnode: number;
  /** The shard holding the object's bucket record. */
  bucketShard: number;
}

async function collect(options: DiscoveryOptions): Promise<DiscoveryEvent[]> {
  const events: DiscoveryEvent[] = [];
  for await (const e of discoverObjects(options)) events.push(e);
  return events;
}

describe('buckets RPC listing discovery', () => {
  const shards: Shard[] = [];
  const seeded: Seeded[] = [];
  const hosting = (vnode: number) => shards[vnode % 2] as Shard;

  before(async () => {
    for (const number of [1, 2]) {
      const vnodes = [0, 1, 2, 3].filter((v) => v % 2 === number - 1);
      const bdb = await createBucketsDatabase(vnodes);
      const mdapi = await startMdapiShard({ db: bdb.db, vnodes, log });
      const client = new MdapiClient({
        host: mdapi.host,
        port: mdapi.port,
        maxRetries: 1,
        initialBackoffMs: 1,
        maxBackoffMs: 2,
        log,
      });
      shards.push({ number, vnodes, bdb, mdapi, client });
    }
    let n = 0;
    for (const owner of OWNERS) {
      for (const bucketName of ['photos', 'logs', 'backups']) {
        const bv = bucketVnode(owner, bucketName, VNODES);
        const bucket = await hosting(bv).client.createBucket({
          owner,
          name: bucketName,
          vnode: bv,
        });
        for (let i = 0; i < 10; i++, n++) {
          const name = `dir/o-${i}`;
          const vnode = objectVnode(owner, bucket.id, name, VNODES);
          const object = await hosting(vnode).client.createObject({
            owner,
            bucket_id: bucket.id,
            name,
            id: randomUUID(),
            vnode,
            content_length: n,
            content_md5: md5,
            content_type: 'text/plain',
            headers: n % 2 === 0 ? { 'm-a': 'x', 'm-unset': null } : {},
            sharks: SHARKS[n % SHARKS.length] ?? [],
            properties: n % 3 === 0 ? { tags: ['a', null] } : null,
          });
          seeded.push({ object, vnode, bucketShard: hosting(bv).number });
        }
      }
    }
  });
  after(async () => {
    for (const s of shards) {
      await s.client.close();
      await s.mdapi.close();
      await s.bdb.drop();
    }
  });

  const sources = () =>
    shards.map(
      (s): BucketsShardSource => ({ shard: s.number, mode: 'buckets-rpc', client: s.client }),
    );
  const configured = () =>
    shards.map(
      (s): BucketsShardSource => ({
        shard: s.number,
        mode: 'buckets-rpc',
        client: s.client,
        vnodes: s.vnodes,
        owners: [...OWNERS],
      }),
    );
  const onShark = () =>
    seeded.filter((s) => s.object.sharks.some((c) => c.manta_storage_id === SHARK));
  const expected = () =>
    onShark()
      .map((s) => rowIdOf({ ...s.object, vnode: s.vnode }))
      .sort();

  test('listvnodes unsupported (the real server) fails loudly, naming the shard', async () => {
    await assert.rejects(collect({ shark: SHARK, shards: sources() }), (err: unknown) => {
      assert.ok(err instanceof BucketsListingUnsupportedError, String(err));
      assert.equal(err.rpc, 'listvnodes');
      assert.equal(err.shard, 1);
      assert.match(err.message, /buckets shard 1: buckets-mdapi does not implement listvnodes/);
      return true;
    });
  });

  test('with the vnodes configured, listowners unsupported fails loudly too', async () => {
    const withVnodes = shards.map(
      (s): BucketsShardSource => ({
        shard: s.number,
        mode: 'buckets-rpc',
        client: s.client,
        vnodes: s.vnodes,
      }),
    );
    await assert.rejects(
      collect({ shark: SHARK, shards: withVnodes }),
      (err: unknown) => err instanceof BucketsListingUnsupportedError && err.rpc === 'listowners',
    );
  });

  test('vnodes and owners configured: every object on the shark, records kept whole', async () => {
    const events = await collect({ shark: SHARK, shards: configured(), batchSize: 3 });
    assert.deepEqual(rowIds(events, 'object').sort(), expected());
    assert.ok(expected().length >= 20);
    const byId = new Map(seeded.map((s) => [s.object.id, s]));
    for (const e of events) {
      if (e.kind !== 'object') continue;
      assert.equal(e.tier, 'buckets');
      const s = byId.get(e.id) as Seeded;
      assert.equal(e.shard, hosting(s.vnode).number);
      assert.equal(e.vnode, s.vnode);
      assert.equal(e.etag, s.object.id);
      assert.equal(e.key, s.object.name);
      assert.deepEqual(e.value.headers, s.object.headers);
      assert.deepEqual(e.value.properties, s.object.properties);
      assert.deepEqual(e.value.sharks, s.object.sharks);
      assert.equal(e.value.bucket_id, s.object.bucket_id);
      assert.equal(e.value.vnode, s.vnode);
    }
  });

  test('listvnodes/listowners served: everything, also objects whose bucket is on the other shard', async () => {
    for (const s of shards) s.mdapi.discoveryRpcs = true;
    try {
      const events = await collect({ shark: SHARK, shards: sources(), batchSize: 2 });
      assert.deepEqual(rowIds(events, 'object').sort(), expected());
      const across = onShark().filter((s) => s.bucketShard !== hosting(s.vnode).number);
      assert.ok(across.length > 0, 'some objects live on another shard than their bucket');
      const done = events.filter(
        (e): e is BucketsCheckpoint => e.kind === 'buckets-checkpoint' && e.done,
      );
      assert.deepEqual(done.map((c) => `${c.shard}:${c.vnode}`).sort(), [
        '1:0',
        '1:2',
        '2:1',
        '2:3',
      ]);
    } finally {
      for (const s of shards) s.mdapi.discoveryRpcs = false;
    }
  });

  test('resuming from any checkpoint yields exactly the rest of that shard', async () => {
    const full = await collect({
      shark: SHARK,
      shards: configured(),
      batchSize: 2,
      concurrency: 1,
    });
    const ofShard1 = (events: readonly DiscoveryEvent[]) =>
      rowIds(
        events.filter((e) => e.shard === 1),
        'object',
      );
    let resumed = 0;
    for (const [i, c] of full.entries()) {
      if (c.kind !== 'buckets-checkpoint' || c.shard !== 1) continue;
      const rest = await collect({
        shark: SHARK,
        // Both shards: the catalogue of buckets needs every shard's bucket records.
        shards: configured(),
        batchSize: 2,
        bucketsCheckpoints: new Map([
          [1, { mode: c.mode, vnode: c.vnode, after: c.after, done: c.done }],
        ]),
      });
      assert.deepEqual(ofShard1(rest), ofShard1(full.slice(i + 1)), `after #${i}`);
      resumed++;
    }
    assert.ok(resumed > 5, `${resumed} checkpoints`);
  });

  test('an overloaded shard is retried: discovery is delayed, not failed', async () => {
    const s1 = shards[0] as Shard;
    // The client tries twice per call; three of discovery's attempts fail, the fourth passes.
    s1.mdapi.faults.set({ methods: ['listobjects'], overloaded: { count: 6 } });
    try {
      const d = discoverObjects({ shark: SHARK, shards: configured(), retryDelayMs: 1 });
      const events: DiscoveryEvent[] = [];
      for await (const e of d) events.push(e);
      assert.deepEqual(rowIds(events, 'object').sort(), expected());
      assert.equal(d.bucketsStats().get(1)?.retries, 3);
    } finally {
      s1.mdapi.faults.set({});
    }
  });

  test('a listing that fails is a DiscoveryShardError naming the buckets shard and vnode', async () => {
    const wrong = configured().map((s) => (s.shard === 1 ? { ...s, vnodes: [0, 1] } : s));
    await assert.rejects(collect({ shark: SHARK, shards: wrong }), (err: unknown) => {
      assert.ok(err instanceof DiscoveryShardError, String(err));
      assert.equal(err.tier, 'buckets');
      assert.equal(err.shard, 1);
      assert.equal(err.column, 'vnode 1');
      assert.match(err.message, /discovery of buckets shard 1 failed at vnode 1 list/);
      return true;
    });
  });
});
