/**
 * The stand-in's fault knobs and user actions: overloaded (the wrapped OverloadedError),
 * slow replies, dropped connections, an object replaced by a new id or deleted after it
 * was read; and the stand-in-only control RPC. Storage plays no part: PGlite only.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FastConnectionError, FastServerError } from '../../../src/fast/index.ts';
import type { ObjectResponse } from '../../../src/mdapi/index.ts';
import { MdapiFaults } from '../../../src/sandbox/mdapi/index.ts';
import { backends, newObject, type StartedShard, startShard } from './helpers.ts';

describe('MdapiFaults', () => {
  test('counts fire first, then seeded rates; methods limit them; bad input is refused', () => {
    const faults = new MdapiFaults({ overloaded: { count: 2 }, methods: ['getobject'] });
    const fired = () => faults.next('getobject').fault;
    assert.deepEqual([fired(), fired(), fired()], ['overloaded', 'overloaded', undefined]);
    assert.equal(faults.next('updateobject').fault, undefined);
    assert.deepEqual(faults.get().overloaded, { count: 0 });

    const draws = (seed: number) => {
      const f = new MdapiFaults({ seed, drop: { rate: 0.5 } });
      return Array.from({ length: 40 }, () => f.next('x').fault ?? '-').join('');
    };
    assert.equal(draws(7), draws(7), 'the same seed draws the same faults');
    assert.notEqual(draws(7), draws(8));
    assert.match(draws(7), /drop/);
    assert.match(draws(7), /-/);

    assert.throws(() => new MdapiFaults({ slowMs: -1 }), { code: 'invalid_mdapi_faults' });
    assert.throws(() => new MdapiFaults({ bogus: true }), { code: 'invalid_mdapi_faults' });
  });
});

describe('fault knobs of a running shard', () => {
  const backend = backends()[0];
  let s: StartedShard;
  const owner = randomUUID();
  let bucketId: string;
  let object: ObjectResponse;
  const key = () => ({ owner, bucket_id: bucketId, name: 'faulty', vnode: 0 });
  const get = () => s.fast.call('getobject', [{ ...key(), request_id: randomUUID() }]);

  before(async () => {
    assert.ok(backend);
    s = await startShard(backend);
    const [bucket] = (await s.fast.call('createbucket', [
      { owner, name: 'b', vnode: 0, request_id: randomUUID() },
    ])) as { id: string }[];
    bucketId = String(bucket?.id);
    object = await s.client.createObject(newObject(owner, bucketId, 'faulty'));
  });
  after(() => s?.close());

  test('overloaded answers the wrapped OverloadedError, then serves again', async () => {
    s.shard.faults.set({ overloaded: { count: 1 } });
    assert.deepEqual(await get(), [
      {
        error: {
          name: 'OverloadedError',
          message: 'Unable to retrieve a connection within the claim timeout',
        },
      },
    ]);
    assert.equal(((await get())[0] as { id: string }).id, object.id);
  });

  test('slow delays every reply by slowMs', async () => {
    s.shard.faults.set({ slowMs: 150 });
    const started = performance.now();
    await get();
    assert.ok(performance.now() - started >= 140);
    s.shard.faults.set({});
  });

  test('drop closes the connection without an answer; dropConnections closes them all', async () => {
    s.shard.faults.set({ drop: { count: 1 }, methods: ['getobject'] });
    await assert.rejects(get(), FastConnectionError);
    assert.equal(((await get())[0] as { id: string }).id, object.id, 'a new connection works');
    s.shard.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(s.fast.connected, false);
  });

  test('sandbox.control sets faults and the discovery RPCs over the wire', async () => {
    const [state] = await s.fast.call('sandbox.control', [
      { faults: { slowMs: 1, overloaded: { rate: 0 } }, discoveryRpcs: true },
    ]);
    assert.deepEqual(state, {
      faults: { slowMs: 1, overloaded: { rate: 0, count: 0 } },
      discoveryRpcs: true,
    });
    assert.equal(s.shard.discoveryRpcs, true);
    await assert.rejects(
      s.fast.call('sandbox.control', [{ faults: { slowMs: 'x' } }]),
      (err: unknown) => err instanceof FastServerError && /invalid mdapi faults/.test(err.message),
    );
    await s.fast.call('sandbox.control', [{ faults: {}, discoveryRpcs: false }]);
  });

  test('replaceObject gives the object a new id (a user overwrite); deleteObject removes it', async () => {
    const replaced = await s.shard.replaceObject(key());
    assert.notEqual(replaced.id, object.id);
    assert.deepEqual(
      { ...replaced, id: object.id, created: object.created, modified: object.modified },
      object,
      'everything but the id (and times) is kept',
    );
    const [again] = (await s.fast.call('sandbox.replaceobject', [key()])) as { id: string }[];
    assert.notEqual(again?.id, replaced.id);
    await s.shard.deleteObject(key());
    assert.deepEqual(await get(), [
      { error: { name: 'ObjectNotFound', message: 'requested object not found' } },
    ]);
  });
});
