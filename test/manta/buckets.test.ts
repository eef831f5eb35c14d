/**
 * Buckets (v2) domain helpers: the placement rule (vnode of an object and of a bucket), the
 * `"dc:id"` form of a copy, and the conversion between buckets-mdapi's ObjectResponse and
 * the Moray-shaped value a job carries.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type BucketsObject,
  bucketsObjectToValue,
  bucketVnode,
  InvalidBucketsRecordError,
  objectVnode,
  storageNodeFromText,
  storageNodeToText,
  valueToBucketsUpdate,
  vnodeHashInterval,
} from '../../src/manta/buckets.ts';
import { InvalidMantaIdError } from '../../src/manta/errors.ts';

describe('placement', () => {
  test("the ring's interval is the SHA-256 space divided by the vnode count", () => {
    assert.equal(vnodeHashInterval(16).toString(16).padStart(64, '0'), `0${'f'.repeat(63)}`);
    assert.equal(vnodeHashInterval(8).toString(16), `1${'f'.repeat(63)}`);
    assert.equal(vnodeHashInterval(1), (1n << 256n) - 1n);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => vnodeHashInterval(bad), RangeError);
    }
  });

  test('an object vnode as buckets-api places it (the documented example: vnode 1 of 16)', () => {
    const owner = 'fe3617d8-8df8-4bfd-8ef0-3f08cc6ae2ec';
    const bucketId = '9a7d9ef5-6bd8-408c-9655-747e7f058901';
    assert.equal(objectVnode(owner, bucketId, 'wp12340507-dnd-dice-wallpapers.jpg', 16), 1);
    // SHA-256("<owner>:mybucket") over the same interval, computed independently.
    assert.equal(bucketVnode(owner, 'mybucket', 16), 10);
  });

  test('vnodes fall in [0, count) and depend on owner, bucket and name', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.uuid(),
        fc.string(),
        fc.integer({ min: 1, max: 4096 }),
        (o, b, n, count) => {
          const v = objectVnode(o, b, n, count);
          return Number.isInteger(v) && v >= 0 && v < count;
        },
      ),
    );
    const owner = randomUUID();
    const bucket = randomUUID();
    const spread = new Set(
      Array.from({ length: 200 }, (_, i) => objectVnode(owner, bucket, `key-${i}`, 16)),
    );
    assert.equal(spread.size, 16, 'keys spread over every vnode');
  });
});

describe('"dc:id" copies', () => {
  test('round trip; the element splits at its first ":"', () => {
    const node = { datacenter: 'us-east-1', manta_storage_id: '1.stor.example.com' };
    assert.equal(storageNodeToText(node), 'us-east-1:1.stor.example.com');
    assert.deepEqual(storageNodeFromText('us-east-1:1.stor.example.com'), node);
    assert.deepEqual(storageNodeFromText('dc:host:2020'), {
      datacenter: 'dc',
      manta_storage_id: 'host:2020',
    });
    assert.deepEqual(storageNodeFromText(':x'), { datacenter: '', manta_storage_id: 'x' });
  });

  test('a text without ":" or a datacenter with one cannot be a copy', () => {
    assert.throws(() => storageNodeFromText('1.stor.example.com'), InvalidMantaIdError);
    assert.throws(
      () => storageNodeToText({ datacenter: 'a:b', manta_storage_id: 'x' }),
      InvalidMantaIdError,
    );
  });
});

describe('record conversion', () => {
  const object: BucketsObject = {
    id: randomUUID(),
    owner: randomUUID(),
    bucket_id: randomUUID(),
    name: 'dir/photo.jpg',
    content_length: 1024,
    content_md5: 'XUFAKrxLKna5cZ2REBfFkg==',
    content_type: 'image/jpeg',
    headers: { 'm-a': 'b', 'x-null': null },
    sharks: [
      { datacenter: 'dc1', manta_storage_id: '1.stor.example.com' },
      { datacenter: 'dc2', manta_storage_id: '2.stor.example.com' },
    ],
    properties: { k: [1, 2] },
  };

  test('ObjectResponse -> Moray-shaped value (peers.md §3.4), own headers and properties kept', () => {
    const value = bucketsObjectToValue(object, 7);
    assert.deepEqual(value, {
      bucket_id: object.bucket_id,
      contentLength: 1024,
      contentMD5: object.content_md5,
      contentType: 'image/jpeg',
      creator: object.owner,
      dirname: '',
      etag: object.id,
      headers: { 'm-a': 'b', 'x-null': null },
      key: 'dir/photo.jpg',
      mtime: 0,
      name: 'dir/photo.jpg',
      objectId: object.id,
      owner: object.owner,
      properties: { k: [1, 2] },
      roles: [],
      sharks: object.sharks,
      type: 'object',
      vnode: 7,
    });
    assert.notEqual(value.sharks, object.sharks, 'the sharks are a copy the job may rewrite');
  });

  test('value -> updateobject payload: same object, if-match on its id, headers as they were', () => {
    const value = bucketsObjectToValue(object, 7);
    value.sharks[1] = { datacenter: 'dc3', manta_storage_id: '3.stor.example.com' };
    assert.deepEqual(valueToBucketsUpdate(value), {
      owner: object.owner,
      bucket_id: object.bucket_id,
      name: object.name,
      id: object.id,
      vnode: 7,
      content_type: 'image/jpeg',
      headers: { 'm-a': 'b', 'x-null': null },
      sharks: [object.sharks[0], { datacenter: 'dc3', manta_storage_id: '3.stor.example.com' }],
      properties: { k: [1, 2] },
      conditions: { 'if-match': [object.id] },
    });
    const { headers: _h, properties: _p, ...bare } = value;
    const update = valueToBucketsUpdate(bare);
    assert.deepEqual([update.headers, update.properties], [{}, null]);
  });

  test('a value that cannot address a buckets object is refused, naming the field', () => {
    const value = bucketsObjectToValue(object, 7);
    const refused = (v: Record<string, unknown>, field: string) =>
      assert.throws(
        () => valueToBucketsUpdate({ ...value, ...v }),
        (err: unknown) => err instanceof InvalidBucketsRecordError && err.field === field,
      );
    refused({ bucket_id: undefined }, 'bucket_id');
    refused({ owner: 'acct' }, 'owner');
    refused({ objectId: 'abc' }, 'objectId');
    refused({ etag: randomUUID() }, 'etag');
    refused({ vnode: undefined }, 'vnode');
    refused({ contentType: undefined }, 'contentType');
  });
});
