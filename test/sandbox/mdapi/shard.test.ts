/**
 * The buckets-mdapi stand-in over real sockets and a real database, checked on the wire
 * with a raw Fast client: object RPC semantics (id match, COALESCE sharks, conditions with
 * etag = id), the PostgreSQL layout (typed columns, "dc:id" sharks, bytea digest, hstore
 * headers with NULLs), errors in the wrapped DATA form, wrong-vnode answers. The batch RPC
 * is in batch.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { FastServerError } from '../../../src/fast/index.ts';
import { backends, MD5, NOT_FOUND, newObject, wireFixture } from './helpers.ts';

for (const backend of backends()) {
  describe(`buckets-mdapi stand-in on ${backend.label}`, () => {
    const w = wireFixture(backend);
    const { owner, call, one, create, key, updateOf } = w;

    test('buckets: create, get, duplicate, missing, list with prefix/marker/limit', async () => {
      assert.deepEqual(Object.keys(await one('getbucket', { owner, name: 'photos', vnode: 0 })), [
        'id',
        'owner',
        'name',
        'created',
      ]);
      assert.deepEqual(await one('createbucket', { owner, name: 'photos', vnode: 0 }), {
        error: { name: 'BucketAlreadyExists', message: 'requested bucket already exists' },
      });
      assert.deepEqual(await one('getbucket', { owner, name: 'nope', vnode: 0 }), {
        error: { name: 'BucketNotFound', message: 'requested bucket not found' },
      });
      for (const name of ['b-2', 'b-1', 'c-1'])
        await one('createbucket', { owner, name, vnode: 2 });
      const names = async (extra: Record<string, unknown>) =>
        (
          (await call('listbuckets', { owner, vnode: 2, limit: 10, ...extra })) as {
            name: string;
          }[]
        ).map((b) => b.name);
      assert.deepEqual(await names({}), ['b-1', 'b-2', 'c-1']);
      assert.deepEqual(await names({ prefix: 'b-' }), ['b-1', 'b-2']);
      assert.deepEqual(await names({ marker: 'b-1', limit: 1 }), ['b-2']);
    });

    test('createobject/getobject: the reply shape and values round trip exactly', async () => {
      const headers = { 'm-color': 'blue', 'x-null': null, 'quote"s\\': 'é ünïcode "x"', '': '' };
      const properties = { nested: [1, 'two', { three: null }], n: 1.5 };
      const created = await create('dir/obj 1', { headers, properties, content_type: 'image/png' });
      const got = await one('getobject', key('dir/obj 1'));
      assert.deepEqual(got, created);
      assert.deepEqual(Object.keys(got), [
        'id',
        'owner',
        'bucket_id',
        'name',
        'created',
        'modified',
        'content_length',
        'content_md5',
        'content_type',
        'headers',
        'sharks',
        'properties',
      ]);
      assert.deepEqual(got.headers, headers);
      assert.deepEqual(got.properties, properties);
      assert.equal(got.content_md5, MD5);
      assert.equal(got.content_length, 5);
      assert.match(String(got.created), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$/);
      assert.deepEqual(await one('getobject', key('absent')), NOT_FOUND);
    });

    test('the row is laid out as buckets-postgres: text[] "dc:id", bytea digest, hstore NULLs', async () => {
      const o = await create('layout', {
        headers: { a: null, b: 'x' },
        sharks: [
          { datacenter: 'dc1', manta_storage_id: '1.stor.example.com' },
          { datacenter: 'dc2', manta_storage_id: '11.stor.example.com' },
        ],
      });
      const { rows } = await w.shard().db.query(
        `SELECT sharks, encode(content_md5, 'hex') AS md5, headers -> 'a' AS a,
           defined(headers, 'a') AS a_defined, exist(headers, 'a') AS a_exists, headers -> 'b' AS b
         FROM manta_bucket_0.manta_bucket_object WHERE id = $1`,
        [o.id],
      );
      assert.deepEqual(rows, [
        {
          sharks: ['dc1:1.stor.example.com', 'dc2:11.stor.example.com'],
          md5: Buffer.from(MD5, 'base64').toString('hex'),
          a: null,
          a_defined: false,
          a_exists: true,
          b: 'x',
        },
      ]);
    });

    test('updateobject: sets type, headers, properties; COALESCE keeps sharks when none given', async () => {
      const o = await create('update-me', { headers: { keep: 'no' }, properties: { v: 1 } });
      const newSharks = [{ datacenter: 'dc9', manta_storage_id: '9.stor.example.com' }];
      const u1 = await one(
        'updateobject',
        updateOf(o, {
          content_type: 'a/b',
          headers: { h: null },
          properties: { v: 2 },
          sharks: newSharks,
        }),
      );
      assert.equal(u1.id, o.id, 'the id (etag) does not change on a metadata update');
      assert.equal(u1.created, o.created);
      assert.deepEqual(
        [u1.content_type, u1.headers, u1.properties, u1.sharks],
        ['a/b', { h: null }, { v: 2 }, newSharks],
      );
      const u2 = await one('updateobject', updateOf(u1, { sharks: null }));
      assert.deepEqual(u2.sharks, newSharks, 'null sharks: kept');
      const u3 = await one('updateobject', updateOf(u1, { properties: undefined }));
      assert.deepEqual(u3.sharks, newSharks, 'absent sharks: kept');
      assert.equal(u3.properties, null, 'absent properties are written as null');
    });

    test('updateobject changes the row only while it has the given id', async () => {
      const o = await create('replaced');
      const replacement = await create('replaced');
      assert.notEqual(replacement.id, o.id);
      assert.deepEqual(await one('updateobject', updateOf(o, { content_type: 'x/y' })), NOT_FOUND);
      assert.equal((await one('getobject', key('replaced'))).content_type, 'text/plain');
    });

    test('conditions: if-match on the id, the wildcard, if-none-match, underscore spelling', async () => {
      const o = await create('cond');
      const other = randomUUID();
      const ok = await one('updateobject', updateOf(o, { conditions: { 'if-match': [o.id] } }));
      assert.equal(ok.id, o.id);
      assert.deepEqual(
        await one('updateobject', updateOf(o, { conditions: { if_match: [other, 'x'] } })),
        {
          error: {
            name: 'PreconditionFailedError',
            message: `if-match '"${other}", "x"' didn't match etag '${o.id}'`,
          },
        },
      );
      const absent = { ...updateOf(o), name: 'no-such', conditions: { 'if-match': ['*'] } };
      assert.deepEqual(await one('updateobject', absent), {
        error: {
          name: 'PreconditionFailedError',
          message: `if-match '"*"' matched a non-existent object`,
        },
      });
      assert.deepEqual(
        await one('getobject', { ...key('cond'), conditions: { 'if-none-match': [o.id] } }),
        {
          error: {
            name: 'PreconditionFailedError',
            message: `if-none-match '"${o.id}"' matched etag '${o.id}'`,
          },
        },
      );
    });

    test('conditions: if-modified-since / if-unmodified-since against modified', async () => {
      const o = await create('times');
      const past = '2000-01-01T10:00:00Z';
      const future = '2999-01-01T00:00:00.5+02:00';
      const get = (conditions: Record<string, unknown>) =>
        one('getobject', { ...key('times'), conditions });
      assert.equal((await get({ 'if-modified-since': past })).id, o.id);
      assert.equal((await get({ if_unmodified_since: future })).id, o.id);
      const modified = String(o.modified).replace(/Z$/, '+00:00');
      assert.deepEqual(await get({ 'if-unmodified-since': past }), {
        error: {
          name: 'PreconditionFailedError',
          message: `object was modified at '${modified}'; if-unmodified-since '2000-01-01T10:00:00+00:00'`,
        },
      });
      assert.deepEqual(await get({ 'if-modified-since': future }), {
        error: {
          name: 'PreconditionFailedError',
          message: `object was modified at '${modified}'; if-modified-since '2998-12-31T22:00:00.500+00:00'`,
        },
      });
    });

    test('createobject over an existing name replaces it and keeps the old row as deleted', async () => {
      const first = await create('overwritten');
      const second = await create('overwritten', { content_length: 7 });
      const { rows } = await w
        .shard()
        .db.query('SELECT id FROM manta_bucket_0.manta_bucket_deleted_object WHERE name = $1', [
          'overwritten',
        ]);
      assert.deepEqual(rows, [{ id: first.id }]);
      assert.equal((await one('getobject', key('overwritten'))).id, second.id);
    });

    test('deleteobject answers the rows it removed; a second delete finds nothing', async () => {
      const o = await create('gone');
      assert.deepEqual(await one('deleteobject', key('gone')), [
        {
          id: o.id,
          owner,
          bucket_id: w.bucketId(),
          name: 'gone',
          content_length: 5,
          shark_count: 1,
        },
      ]);
      assert.deepEqual(await one('deleteobject', key('gone')), NOT_FOUND);
      const empty = await create('empty', { content_length: 0, content_md5: '', sharks: [] });
      assert.deepEqual(await one('deleteobject', key('empty')), [
        {
          id: empty.id,
          owner,
          bucket_id: w.bucketId(),
          name: 'empty',
          content_length: 0,
          shark_count: 0,
        },
      ]);
      const { rows } = await w
        .shard()
        .db.query(
          `SELECT name FROM manta_bucket_0.manta_bucket_deleted_object WHERE name IN ('gone', 'empty')`,
        );
      assert.deepEqual(rows, [{ name: 'gone' }], 'only rows with data go to garbage collection');
    });

    test('listobjects: name order, marker, prefix, limit; one DATA message per row', async () => {
      const b = String((await one('createbucket', { owner, name: 'list', vnode: 0 })).id);
      for (const name of ['b/2', 'a', 'b/1', 'c']) {
        await one('createobject', newObject(owner, b, name));
      }
      const names = async (extra: Record<string, unknown>) =>
        (
          (await call('listobjects', { owner, bucket_id: b, vnode: 0, limit: 1024, ...extra })) as {
            name: string;
          }[]
        ).map((o) => o.name);
      assert.deepEqual(await names({}), ['a', 'b/1', 'b/2', 'c']);
      assert.deepEqual(await names({ prefix: 'b/' }), ['b/1', 'b/2']);
      assert.deepEqual(await names({ marker: 'b/1', limit: 2 }), ['b/2', 'c']);
      assert.deepEqual(await names({ prefix: 'b/', marker: 'b/1', limit: 5 }), ['b/2']);
      for (const limit of [0, 1025]) {
        assert.deepEqual(await call('listobjects', { owner, bucket_id: b, vnode: 0, limit }), [
          {
            LimitConstraintError: `the listobjects limit option must be a value between 1 and 1024. the requested limit was ${limit}`,
          },
        ]);
      }
    });

    test('a vnode the shard does not host answers PostgresError, as a missing schema', async () => {
      const missing = (table: string) => ({
        error: {
          name: 'PostgresError',
          message: `db error: ERROR: relation "manta_bucket_1.${table}" does not exist`,
        },
      });
      assert.deepEqual(await one('getobject', key('x', 1)), missing('manta_bucket_object'));
      assert.deepEqual(
        await one('updateobject', {
          ...updateOf({ ...key('x'), id: randomUUID(), headers: {} }),
          vnode: 1,
          content_type: 'a',
        }),
        missing('manta_bucket_object'),
      );
      assert.deepEqual(
        await call('listobjects', { owner, bucket_id: w.bucketId(), vnode: 1, limit: 10 }),
        [missing('manta_bucket_object')],
      );
      assert.deepEqual(
        await one('createbucket', { owner, name: 'x', vnode: 1 }),
        missing('manta_bucket'),
      );
    });

    test('Fast ERRORs: a payload that does not decode, a bad digest, a method it lacks', async () => {
      const fastError = async (p: Promise<unknown>, message: string) =>
        assert.rejects(p, (err: unknown) => {
          assert.ok(err instanceof FastServerError);
          assert.deepEqual([err.name, err.message], ['FastError', message]);
          return true;
        });
      await fastError(
        call('getobject', { owner, name: 'x', vnode: 0 }),
        'missing field `bucket_id`',
      );
      await fastError(
        w.shard().fast.call('getobject', []),
        'Failed to parse JSON data as payload for getobject function',
      );
      await fastError(call('listvnodes', {}), 'Unsupported functon: listvnodes');
      await fastError(call('listowners', { vnode: 0 }), 'Unsupported functon: listowners');
      await fastError(call('getgcbatch', {}), 'Unsupported functon: getgcbatch');
      assert.deepEqual(
        await one('createobject', newObject(owner, w.bucketId(), 'bad-md5', { content_md5: '!!' })),
        {
          error: {
            name: 'ContentMd5Error',
            message: 'content_md5 is not valid base64 encoded data: Invalid byte 33, offset 0.',
          },
        },
      );
    });

    test('listvnodes/listowners once switched on: schema-name order, distinct owners', async () => {
      w.shard().shard.discoveryRpcs = true;
      try {
        assert.deepEqual(await one('listvnodes', {}), { vnodes: [0, 2] });
        assert.deepEqual(await one('listowners', { vnode: 0 }), { owners: [owner] });
        assert.deepEqual(await one('listowners', { vnode: 1 }), {
          error: {
            name: 'PostgresError',
            message: 'vnode 1 does not exist on this mdapi instance',
          },
        });
      } finally {
        w.shard().shard.discoveryRpcs = false;
      }
    });
  });
}
