/**
 * The buckets-mdapi client against the sandbox's stand-in over real sockets: every RPC
 * typed and validated, every wrapped error as its typed error, the v2 record conversion and
 * the MPU upload-record rewrite through the wire, and replies that do not fit.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FastServer, RpcError } from '../../src/fast/index.ts';
import { bucketsObjectToValue, valueToBucketsUpdate } from '../../src/manta/buckets.ts';
import {
  mpuPartUploadId,
  mpuUploadRecordId,
  PREALLOCATED_SHARKS_HEADER,
  rewriteUploadRecordSharks,
  UPLOAD_RECORD_HEADER,
  uploadRecordName,
} from '../../src/manta/mpu.ts';
import {
  type CreateObjectPayload,
  MdapiClient,
  MdapiEtagMismatchError,
  MdapiObjectNotFoundError,
  MdapiProtocolError,
  MdapiServerError,
  MdapiUnsupportedError,
} from '../../src/mdapi/index.ts';
import {
  backends,
  newObject,
  type StartedShard,
  silent,
  startShard,
} from '../sandbox/mdapi/helpers.ts';

const DC1 = { datacenter: 'dc1', manta_storage_id: '1.stor.example.com' };
const DC2 = { datacenter: 'dc2', manta_storage_id: '2.stor.example.com' };

for (const backend of backends()) {
  describe(`MdapiClient against the stand-in on ${backend.label}`, () => {
    let s: StartedShard;
    const owner = randomUUID();
    let bucketId: string;
    const create = (name: string, extra: Partial<CreateObjectPayload> = {}) =>
      s.client.createObject(newObject(owner, bucketId, name, extra));

    before(async () => {
      s = await startShard(backend);
      bucketId = (await s.client.createBucket({ owner, name: 'b', vnode: 0 })).id;
    });
    after(() => s?.close());

    test('buckets: create, get, list; a duplicate is a typed server error', async () => {
      assert.equal((await s.client.getBucket({ owner, name: 'b', vnode: 0 })).id, bucketId);
      await s.client.createBucket({ owner, name: 'c', vnode: 0 });
      const listed = await s.client.listBuckets({ owner, vnode: 0, limit: 10 });
      assert.deepEqual(
        listed.map((b) => b.name),
        ['b', 'c'],
      );
      await assert.rejects(
        s.client.createBucket({ owner, name: 'b', vnode: 0 }),
        (err: unknown) => {
          assert.ok(err instanceof MdapiServerError);
          assert.deepEqual(
            [err.code, err.serverName],
            ['mdapi_server_error', 'BucketAlreadyExists'],
          );
          return true;
        },
      );
    });

    test('objects: create, get, update (if-match on the id), delete', async () => {
      const o = await create('obj', { headers: { a: null, b: 'c' }, properties: { p: 1 } });
      assert.deepEqual(
        await s.client.getObject({ owner, bucket_id: bucketId, name: 'obj', vnode: 0 }),
        o,
      );
      const u = await s.client.updateObject({
        owner,
        bucket_id: bucketId,
        name: 'obj',
        id: o.id,
        vnode: 0,
        content_type: o.content_type,
        headers: o.headers,
        sharks: [DC2],
        properties: o.properties,
        conditions: { 'if-match': [o.id] },
      });
      assert.deepEqual(u.sharks, [DC2]);
      const deleted = await s.client.deleteObject({
        owner,
        bucket_id: bucketId,
        name: 'obj',
        vnode: 0,
      });
      assert.deepEqual(
        deleted.map((d) => [d.id, d.shark_count]),
        [[o.id, 1]],
      );
    });

    test('wrapped errors become typed errors with stable codes', async () => {
      const o = await create('errs');
      const update = (extra: Record<string, unknown>) =>
        s.client.updateObject({
          owner,
          bucket_id: bucketId,
          name: 'errs',
          id: o.id,
          vnode: 0,
          content_type: 'x',
          headers: {},
          ...extra,
        });
      await assert.rejects(
        update({ conditions: { 'if-match': [randomUUID()] } }),
        (err: unknown) => {
          assert.ok(err instanceof MdapiEtagMismatchError);
          assert.equal(err.code, 'mdapi_etag_mismatch');
          assert.equal(err.serverName, 'PreconditionFailedError');
          assert.equal(err.attempts, 1);
          return true;
        },
      );
      await assert.rejects(update({ id: randomUUID() }), { code: 'mdapi_object_not_found' });
      await assert.rejects(
        s.client.getObject({ owner, bucket_id: bucketId, name: 'none', vnode: 0 }),
        MdapiObjectNotFoundError,
      );
      await assert.rejects(update({ vnode: 3 }), (err: unknown) => {
        assert.ok(err instanceof MdapiServerError);
        assert.equal(err.code, 'mdapi_server_error');
        assert.equal(err.serverName, 'PostgresError');
        assert.equal(err.missingVnodeSchema, true, 'the vnode is not on this shard');
        assert.match(err.message, /updateobject on 127\.0\.0\.1:\d+: PostgresError: db error/);
        return true;
      });
    });

    test('listObjects pages; listAllObjects follows the marker to the end', async () => {
      const b = (await s.client.createBucket({ owner, name: 'many', vnode: 2 })).id;
      const names = ['e', 'a', 'd', 'c', 'b'];
      for (const name of names) {
        await s.client.createObject(newObject(owner, b, name, { vnode: 2 }));
      }
      const page = await s.client.listObjects({
        owner,
        bucket_id: b,
        vnode: 2,
        limit: 2,
        marker: 'a',
      });
      assert.deepEqual(
        page.map((o) => o.name),
        ['b', 'c'],
      );
      const all: string[] = [];
      for await (const o of s.client.listAllObjects({
        owner,
        bucket_id: b,
        vnode: 2,
        pageSize: 2,
      })) {
        all.push(o.name);
      }
      assert.deepEqual(all, ['a', 'b', 'c', 'd', 'e']);
      await assert.rejects(
        s.client.listObjects({ owner, bucket_id: b, vnode: 2, limit: 1025 }),
        RangeError,
      );
    });

    test('listVnodes/listOwners: unsupported by default (typed), served when switched on', async () => {
      await assert.rejects(s.client.listVnodes(), (err: unknown) => {
        assert.ok(err instanceof MdapiUnsupportedError);
        assert.equal(s.client.isUnsupported(err), true);
        assert.match(err.message, /Unsupported functon: listvnodes/);
        return true;
      });
      await assert.rejects(s.client.listOwners(0), MdapiUnsupportedError);
      s.shard.discoveryRpcs = true;
      try {
        assert.deepEqual(await s.client.listVnodes(), [0, 2]);
        assert.deepEqual(await s.client.listOwners(0), [owner]);
      } finally {
        s.shard.discoveryRpcs = false;
      }
      assert.equal(s.client.isUnsupported(new Error('x')), false);
    });

    test('a v2 record read, converted and written back keeps headers and properties exactly', async () => {
      const headers = { 'm-keep': 'yes', 'x-null': null, 'm-odd': ' "\\é ' };
      const properties = { tags: ['a', 'b'], deep: { n: null } };
      await create('convert', { headers, properties, sharks: [DC1, DC2] });
      const read = await s.client.getObject({
        owner,
        bucket_id: bucketId,
        name: 'convert',
        vnode: 0,
      });
      const value = bucketsObjectToValue(read, 0);
      assert.equal(value.etag, read.id);
      value.sharks[0] = { datacenter: 'dc3', manta_storage_id: '3.stor.example.com' };
      const written = await s.client.updateObject(valueToBucketsUpdate(value));
      assert.deepEqual(written.headers, headers);
      assert.deepEqual(written.properties, properties);
      assert.deepEqual(written.sharks, [value.sharks[0], DC2]);
      assert.equal(written.id, read.id);

      await s.shard.replaceObject({ owner, bucket_id: bucketId, name: 'convert', vnode: 0 });
      await assert.rejects(
        s.client.updateObject(valueToBucketsUpdate(value)),
        MdapiEtagMismatchError,
        'a user overwrite after the read is never overwritten',
      );
    });

    test("an upload record's pre-allocated sharks are rewritten in both header copies", async () => {
      const uploadId = 'lx0abc-0123456789abcdef';
      const entries = [
        { ...DC1, zone: 'z1', availableMB: 100 },
        { ...DC2, zone: 'z2', availableMB: 200 },
      ];
      const record = {
        uploadId,
        bucket: 'b',
        key: 'big',
        status: 'created',
        preAllocatedSharks: entries,
      };
      await create(uploadRecordName(uploadId), {
        content_length: 0,
        content_md5: '',
        content_type: 'application/json',
        sharks: [],
        properties: {},
        headers: {
          [UPLOAD_RECORD_HEADER]: JSON.stringify(record),
          [PREALLOCATED_SHARKS_HEADER]: JSON.stringify(entries),
          'x-upload-id': uploadId,
        },
      });
      // A part moved off the shark names its upload; the record is found from it.
      const part = await create(`.mpu-parts/${uploadId}/1`, { sharks: [DC1] });
      const partUpload = mpuPartUploadId(part.name);
      assert.equal(partUpload, uploadId);
      const read = await s.client.getObject({
        owner,
        bucket_id: bucketId,
        name: uploadRecordName(partUpload),
        vnode: 0,
      });
      assert.equal(mpuUploadRecordId(read.name), uploadId);
      const dest = { datacenter: 'dc3', manta_storage_id: '3.stor.example.com' };
      const rewrite = rewriteUploadRecordSharks(read.headers, DC1.manta_storage_id, dest);
      assert.ok(rewrite);
      const value = bucketsObjectToValue(read, 0);
      const written = await s.client.updateObject({
        ...valueToBucketsUpdate({ ...value, headers: rewrite.headers }),
        sharks: null,
      });
      const want = [{ ...dest, zone: 'z1', availableMB: 100 }, entries[1]];
      assert.deepEqual(JSON.parse(String(written.headers[PREALLOCATED_SHARKS_HEADER])), want);
      assert.deepEqual(JSON.parse(String(written.headers[UPLOAD_RECORD_HEADER])), {
        ...record,
        preAllocatedSharks: want,
      });
      assert.equal(written.headers['x-upload-id'], uploadId);
      assert.deepEqual(written.sharks, [], 'an upload record has no data');
    });
  });
}

describe('MdapiClient against servers that answer otherwise', () => {
  let server: FastServer;
  let port: number;
  before(async () => {
    server = new FastServer({ log: silent });
    server.register('getobject', async (rpc) => {
      await rpc.write({ id: 'not-a-uuid' });
    });
    server.register('deleteobject', async (rpc) => {
      await rpc.write([{ id: randomUUID(), owner: randomUUID(), bucket_id: randomUUID() }]);
    });
    server.register('getbucket', async (rpc) => {
      await rpc.write({ id: randomUUID(), owner: randomUUID(), name: 'x', created: 'now' });
      await rpc.write({ id: randomUUID(), owner: randomUUID(), name: 'y', created: 'now' });
    });
    server.register('batchupdateobjects', async () => {
      throw new RpcError('FastError', 'Unsupported functon: batchupdateobjects');
    });
    ({ port } = await server.listen(0));
  });
  after(() => server?.close());
  const client = () => new MdapiClient({ host: '127.0.0.1', port, log: silent, connections: 1 });

  test('a reply that is not the RPC shape is a protocol error naming the field', async () => {
    const c = client();
    try {
      const key = { owner: randomUUID(), bucket_id: randomUUID(), name: 'n', vnode: 0 };
      await assert.rejects(c.getObject(key), (err: unknown) => {
        assert.ok(err instanceof MdapiProtocolError);
        assert.equal(err.code, 'mdapi_protocol');
        assert.equal(err.field, 'owner', 'the first member missing');
        return true;
      });
      await assert.rejects(c.deleteObject(key), { code: 'mdapi_protocol', field: '0.name' });
      await assert.rejects(c.getBucket({ owner: randomUUID(), name: 'x', vnode: 0 }), {
        code: 'mdapi_protocol',
        field: 'd',
      });
    } finally {
      await c.close();
    }
  });

  test('a server without batchupdateobjects: MdapiUnsupportedError (fall back to single updates)', async () => {
    const c = client();
    try {
      const update = {
        owner: randomUUID(),
        bucket_id: randomUUID(),
        name: 'n',
        id: randomUUID(),
        vnode: 0,
        content_type: 'x',
        headers: {},
      };
      await assert.rejects(c.batchUpdateObjects([update]), MdapiUnsupportedError);
      await assert.rejects(c.listVnodes(), (err: unknown) => c.isUnsupported(err));
    } finally {
      await c.close();
    }
  });

  test('a server that answers with a corrupt frame is a transient failure', async () => {
    const garbage = createServer((socket) =>
      socket.on('data', () => socket.write(Buffer.alloc(32, 0xff))),
    );
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const c = new MdapiClient({
      host: '127.0.0.1',
      port: (garbage.address() as { port: number }).port,
      maxRetries: 1,
      initialBackoffMs: 1,
      reconnect: { minDelayMs: 1, maxDelayMs: 2 },
      log: silent,
    });
    try {
      await assert.rejects(c.listVnodes(), { code: 'mdapi_transient', attempts: 2 });
    } finally {
      await c.close();
      await new Promise<void>((resolve) => garbage.close(() => resolve()));
    }
  });

  test('options out of range are refused', () => {
    assert.throws(() => new MdapiClient({ host: 'h', port: 1, maxBatchSize: 1001 }), RangeError);
    assert.throws(() => new MdapiClient({ host: 'h', port: 1, maxBatchSize: 0 }), RangeError);
    assert.throws(() => new MdapiClient({ host: 'h', port: 1, maxRetries: -1 }), RangeError);
  });
});
