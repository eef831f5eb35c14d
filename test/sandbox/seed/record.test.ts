import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SANDBOX_VNODES, shardIndexOfVnode, vnodeOfKey } from '../../../src/sandbox/ring.ts';
import { SeededRandom } from '../../../src/sandbox/seed/random.ts';
import { directoryRecord, objectRecord } from '../../../src/sandbox/seed/record.ts';

const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';

test('object records have Manta member order and the vnode of their key', () => {
  const record = objectRecord({
    owner: OWNER,
    dirname: `/${OWNER}/stor/logs`,
    name: 'a.log',
    objectId: '2e08b069-d132-c25c-920c-945e3329e450',
    contentLength: 3,
    contentMD5: 'rL0Y20zC+Fzt72VPzMSk2A==',
    sharks: [{ datacenter: 'dc1', manta_storage_id: '1.stor.sandbox.test' }],
    mtime: 1570611723062,
  });
  assert.deepEqual(Object.keys(record), [
    'dirname',
    'key',
    'headers',
    'mtime',
    'name',
    'creator',
    'owner',
    'roles',
    'type',
    'contentLength',
    'contentMD5',
    'contentType',
    'etag',
    'objectId',
    'sharks',
    'vnode',
  ]);
  assert.equal(record.key, `/${OWNER}/stor/logs/a.log`);
  assert.equal(record.etag, record.objectId);
  assert.equal(record.vnode, vnodeOfKey(record.key));
});

test('directory records have no object members', () => {
  const record = directoryRecord(OWNER, `/${OWNER}/stor/logs`, 1);
  assert.deepEqual(Object.keys(record), [
    'dirname',
    'key',
    'headers',
    'mtime',
    'name',
    'creator',
    'owner',
    'roles',
    'type',
    'vnode',
  ]);
  assert.equal(record.dirname, `/${OWNER}/stor`);
  assert.equal(record.name, 'logs');
  assert.equal(record.type, 'directory');
});

test('a key always maps to the same vnode and shard, within range', () => {
  fc.assert(
    fc.property(fc.string(), fc.integer({ min: 1, max: 16 }), (key, shards) => {
      const vnode = vnodeOfKey(key);
      assert.equal(vnode, vnodeOfKey(key));
      assert.ok(vnode >= 0 && vnode < SANDBOX_VNODES);
      const shard = shardIndexOfVnode(vnode, shards);
      assert.ok(shard >= 0 && shard < shards);
    }),
  );
});

test('SeededRandom is reproducible and stays in range', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  for (let i = 0; i < 1000; i++) assert.equal(a.next(), b.next());
  const r = new SeededRandom(7);
  for (let i = 0; i < 10_000; i++) {
    const n = r.int(3, 9);
    assert.ok(n >= 3 && n <= 9 && Number.isInteger(n));
    const size = r.logUniform(1024, 1 << 20);
    assert.ok(size >= 1024 && size <= 1 << 20);
  }
  assert.match(r.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const sample = r.sample([1, 2, 3, 4, 5], 3);
  assert.equal(new Set(sample).size, 3);
});
