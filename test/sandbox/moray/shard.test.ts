/**
 * The Moray shard stand-in over real sockets and a real database: RPC semantics, record shapes,
 * errors and the PostgreSQL layout that direct-DB discovery reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastClient } from '../../../src/fast/index.ts';
import { MANTA_BUCKET, MANTA_STORAGE_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { type MorayShard, startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { SAMPLE_ETAG, sampleMantaRecord } from './fixtures.ts';
import { fastClient, opts, rejectsWith, silent } from './helpers.ts';

let tdb: TestDatabase;
let shard: MorayShard;
let client: FastClient;

before(async () => {
  tdb = await createTestDatabase();
  shard = await startMorayShard({ db: tdb.db, log: silent });
  client = fastClient(shard.port);
  await client.connect();
  await client.call('createBucket', ['manta', MANTA_BUCKET, opts()]);
  await client.call('createBucket', ['manta_storage', MANTA_STORAGE_BUCKET, opts()]);
});

after(async () => {
  await client?.close();
  await shard?.close();
  await tdb?.drop();
});

function mantaObject(key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return {
    dirname: key.slice(0, key.lastIndexOf('/')),
    key,
    headers: {},
    mtime: 1700000000000,
    name,
    creator: 'acct',
    owner: 'acct',
    roles: [],
    type: 'object',
    contentLength: 1,
    contentMD5: 'x',
    contentType: 'text/plain',
    etag: `id-${name}`,
    objectId: `id-${name}`,
    sharks: [{ datacenter: 'dc1', manta_storage_id: '1.stor.example.com' }],
    vnode: 7,
    ...extra,
  };
}

async function put(bucket: string, key: string, value: Record<string, unknown>, o = {}) {
  const [out] = await client.call('putObject', [bucket, key, value, opts(o)]);
  return (out as { etag: string }).etag;
}

async function get(bucket: string, key: string) {
  const out = await client.call('getObject', [bucket, key, opts()]);
  assert.equal(out.length, 1);
  return out[0] as Record<string, unknown>;
}

async function find(bucket: string, filter: string, o: Record<string, unknown> = {}) {
  return (await client.call('findObjects', [bucket, filter, opts(o)])) as Record<string, unknown>[];
}

describe('meta RPCs', () => {
  test('version answers {version: 2}', async () => {
    assert.deepEqual(await client.call('version', [{}]), [{ version: 2 }]);
  });

  test('ping, shallow and deep, answers END only', async () => {
    assert.deepEqual(await client.call('ping', [{ deep: false }]), []);
    assert.deepEqual(await client.call('ping', [{ deep: true }]), []);
  });

  test('getTokens is not supported', async () => {
    await rejectsWith(client.call('getTokens', [{}]), 'Error', 'Operation not supported');
  });
});

describe('buckets', () => {
  test('getBucket takes [options, bucket] and returns the raw config row', async () => {
    const [row] = (await client.call('getBucket', [opts(), 'manta'])) as Record<string, unknown>[];
    assert.ok(row);
    assert.equal(row.name, 'manta');
    assert.equal(typeof row.index, 'string');
    assert.deepEqual(JSON.parse(row.index as string), MANTA_BUCKET.index);
    assert.equal(row.pre, '[]');
    assert.equal(row.post, '[]');
    assert.deepEqual(JSON.parse(row.options as string), { version: 2 });
    assert.match(row.mtime as string, /^\d{4}-\d\d-\d\dT/);
    assert.equal(row.reindex_active, null);
  });

  test('listBuckets sends one row per bucket', async () => {
    const rows = (await client.call('listBuckets', [opts()])) as { name: string }[];
    assert.deepEqual(rows.map((r) => r.name).sort(), ['manta', 'manta_storage']);
  });

  test('errors: missing, duplicate, bad name, bad index', async () => {
    await rejectsWith(
      client.call('getBucket', [opts(), 'nope']),
      'BucketNotFoundError',
      'nope does not exist',
    );
    await rejectsWith(
      client.call('createBucket', ['manta', MANTA_BUCKET, opts()]),
      'BucketConflictError',
      'manta was likely being concurrently updated',
    );
    await rejectsWith(
      client.call('createBucket', ['1bad', { index: {} }, opts()]),
      'InvalidBucketNameError',
      '1bad is not a valid bucket name',
    );
    await rejectsWith(
      client.call('createBucket', ['buckets_config', { index: {} }, opts()]),
      'InvalidBucketNameError',
      'buckets_config is not a valid bucket name',
    );
    await rejectsWith(
      client.call('createBucket', ['b1', { index: { foo: {} } }, opts()]),
      'InvalidBucketConfigError',
      "bucket.index['foo'] should have required property 'type'",
    );
    await rejectsWith(
      client.call('createBucket', ['b1', { index: { _id: { type: 'number' } } }, opts()]),
      'InvalidBucketConfigError',
      'index name "_id" is reserved for use by Moray',
    );
  });

  test('updateBucket adds columns, refuses older versions; delBucket drops the table', async () => {
    const v1 = { index: { a: { type: 'string' } }, options: { version: 1 } };
    await client.call('createBucket', ['tmp_bucket', v1, opts()]);
    await put('tmp_bucket', 'k', { a: 'x', b: 5 });
    await client.call('updateBucket', [
      'tmp_bucket',
      { index: { a: { type: 'string' }, b: { type: 'number' } }, options: { version: 2 } },
      opts(),
    ]);
    const cols = await tdb.db.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'tmp_bucket' ORDER BY ordinal_position",
    );
    assert.deepEqual(cols.rows.map((r) => r.column_name).slice(-2), ['a', 'b']);
    // The config cache was invalidated: writes now fill the new column.
    await put('tmp_bucket', 'k2', { a: 'y', b: 6 });
    assert.deepEqual(
      (await find('tmp_bucket', '(b>=6)')).map((r) => r.key),
      ['k2'],
    );
    await rejectsWith(
      client.call('updateBucket', ['tmp_bucket', v1, opts()]),
      'BucketVersionError',
      'tmp_bucket has a newer version than 1 (2)',
    );
    await client.call('delBucket', ['tmp_bucket', opts()]);
    await rejectsWith(
      client.call('getObject', ['tmp_bucket', 'k', opts()]),
      'BucketNotFoundError',
      'tmp_bucket does not exist',
    );
    const tables = await tdb.db.query("SELECT 1 FROM pg_tables WHERE tablename = 'tmp_bucket'");
    assert.equal(tables.rows.length, 0);
  });
});

describe('putObject / getObject / delObject', () => {
  const sample = sampleMantaRecord();
  const key = sample.key as string;

  test('the spec sample record gets etag 7712D647 and reads back as Moray shapes it', async () => {
    assert.equal(await put('manta', key, sample), SAMPLE_ETAG);
    const record = await get('manta', key);
    assert.deepEqual(Object.keys(record), [
      'bucket',
      'key',
      'value',
      '_id',
      '_etag',
      '_mtime',
      '_txn_snap',
      '_count',
    ]);
    assert.equal(record.bucket, 'manta');
    assert.equal(record.key, key);
    assert.deepEqual(record.value, sample);
    assert.equal(typeof record._id, 'number');
    assert.equal(record._etag, SAMPLE_ETAG);
    assert.equal(typeof record._mtime, 'number');
    assert.equal(record._txn_snap, null);
    assert.equal(record._count, null);
  });

  test('the row is laid out as real Moray: columns, types, values, indexes', async () => {
    const cols = await tdb.db.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'manta' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      cols.rows.map((r) => `${r.column_name}:${r.data_type}`),
      [
        '_id:bigint',
        '_txn_snap:integer',
        '_key:text',
        '_value:text',
        '_etag:character',
        '_mtime:bigint',
        '_vnode:bigint',
        'dirname:text',
        'name:text',
        'owner:text',
        'objectid:text',
        'type:text',
      ],
    );
    // What sharkspotter's direct-DB mode runs.
    const { rows } = await tdb.db.query("SELECT * from manta where type='object'");
    const row = rows.find((r) => r._key === key);
    assert.ok(row);
    assert.equal(row._value, JSON.stringify(sample));
    assert.equal(row._etag, SAMPLE_ETAG);
    assert.equal(row._vnode, '23352');
    assert.equal(row.objectid, sample.objectId);
    assert.equal(row.dirname, sample.dirname);
    const indexes = await tdb.db.query(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'manta' ORDER BY indexname",
    );
    assert.deepEqual(
      indexes.rows.map((r) => r.indexname),
      [
        'manta__etag_idx',
        'manta__id_idx',
        'manta__mtime_idx',
        'manta__vnode_idx',
        'manta_dirname_idx',
        'manta_name_idx',
        'manta_objectid_idx',
        'manta_owner_idx',
        'manta_pkey',
        'manta_type_idx',
      ],
    );
    const objectid = indexes.rows.find((r) => r.indexname === 'manta_objectid_idx');
    assert.match(
      String(objectid?.indexdef),
      /USING btree \(objectid\) WHERE \(objectid IS NOT NULL\)/,
    );
    const seq = await tdb.db.query(
      "SELECT 1 FROM pg_class WHERE relname = 'manta_serial' AND relkind = 'S'",
    );
    assert.equal(seq.rows.length, 1);
  });

  test('etag: null creates only when absent; conflicts carry Moray context', async () => {
    const k = '/acct/stor/etag-null';
    const etag = await put('manta', k, mantaObject(k), { etag: null });
    await rejectsWith(
      client.call('putObject', ['manta', k, mantaObject(k), opts({ etag: null })]),
      'EtagConflictError',
      `manta::${k} was expected to have etag "null", but was "${etag}"`,
      { bucket: 'manta', key: k, expected: 'null', actual: etag },
    );
  });

  test('a string etag must match the current one; missing objects conflict with "null"', async () => {
    const k = '/acct/stor/etag-string';
    const first = await put('manta', k, mantaObject(k));
    const { _id } = await get('manta', k);
    await rejectsWith(
      client.call('putObject', [
        'manta',
        k,
        mantaObject(k, { mtime: 1 }),
        opts({ etag: 'AAAAAAAA' }),
      ]),
      'EtagConflictError',
      `manta::${k} was expected to have etag "AAAAAAAA", but was "${first}"`,
      { bucket: 'manta', key: k, expected: 'AAAAAAAA', actual: first },
    );
    const second = await put('manta', k, mantaObject(k, { mtime: 2 }), { etag: first });
    assert.notEqual(second, first);
    const after = await get('manta', k);
    assert.equal(after._etag, second);
    assert.equal(after._id, _id, 'an overwrite keeps _id');
    assert.equal((after.value as { mtime: number }).mtime, 2);
    const missing = '/acct/stor/never-written';
    await rejectsWith(
      client.call('putObject', [
        'manta',
        missing,
        mantaObject(missing),
        opts({ etag: 'AAAAAAAA' }),
      ]),
      'EtagConflictError',
      `manta::${missing} was expected to have etag "AAAAAAAA", but was "null"`,
      { bucket: 'manta', key: missing, expected: 'AAAAAAAA', actual: 'null' },
    );
  });

  test('unconditional puts overwrite; ids grow and are never reused', async () => {
    const k = '/acct/stor/uncond';
    await put('manta', k, mantaObject(k));
    const a = (await get('manta', k))._id as number;
    await put('manta', k, mantaObject(k, { mtime: 5 }));
    assert.equal((await get('manta', k))._id, a);
    await client.call('delObject', ['manta', k, opts()]);
    await put('manta', k, mantaObject(k));
    assert.ok(((await get('manta', k))._id as number) > a);
  });

  test('absent index fields are NULL and left out of the value; updates clear them', async () => {
    const k = '/acct/stor/no-objectid';
    const v = mantaObject(k);
    delete v.objectId;
    await put('manta', k, v);
    const { rows } = await tdb.db.query('SELECT objectid FROM manta WHERE _key = $1', [k]);
    assert.equal(rows[0]?.objectid, null);
    assert.equal('objectId' in ((await get('manta', k)).value as object), false);
  });

  test('getObject and delObject errors; delObject etags', async () => {
    await rejectsWith(
      client.call('getObject', ['manta', '/nope', opts()]),
      'ObjectNotFoundError',
      'manta::/nope does not exist',
    );
    await rejectsWith(
      client.call('getObject', ['nobucket', '/x', opts()]),
      'BucketNotFoundError',
      'nobucket does not exist',
    );
    await rejectsWith(
      client.call('delObject', ['manta', '/nope', opts()]),
      'ObjectNotFoundError',
      'manta::/nope does not exist',
    );
    const k = '/acct/stor/del';
    const etag = await put('manta', k, mantaObject(k));
    await rejectsWith(
      client.call('delObject', ['manta', k, opts({ etag: 'BBBBBBBB' })]),
      'EtagConflictError',
      `manta::${k} was expected to have etag "BBBBBBBB", but was "${etag}"`,
    );
    await get('manta', k);
    // etag: null is ignored for deletes.
    assert.deepEqual(await client.call('delObject', ['manta', k, opts({ etag: null })]), [{}]);
    await rejectsWith(
      client.call('getObject', ['manta', k, opts()]),
      'ObjectNotFoundError',
      `manta::${k} does not exist`,
    );
    const k2 = '/acct/stor/del2';
    const etag2 = await put('manta', k2, mantaObject(k2));
    assert.deepEqual(await client.call('delObject', ['manta', k2, opts({ etag: etag2 })]), [{}]);
  });

  test('index type conversions: numbers compare numerically', async () => {
    for (const [id, pct] of [
      ['1.stor.example.com', 9],
      ['2.stor.example.com', 100],
      ['3.stor.example.com', 42],
    ] as const) {
      await put('manta_storage', id, {
        availableMB: 1000,
        percentUsed: pct,
        datacenter: 'dc1',
        manta_storage_id: id,
        timestamp: 1700000000000,
      });
    }
    const low = await find('manta_storage', '(percentUsed<=50)', {
      sort: { attribute: '_id', order: 'ASC' },
    });
    assert.deepEqual(
      low.map((r) => r.key),
      ['1.stor.example.com', '3.stor.example.com'],
    );
    assert.equal((low[0]!.value as { percentUsed: unknown }).percentUsed, 9);
    // sharkspotter's shark validation: an unparenthesised equality, default options.
    const one = await find('manta_storage', 'manta_storage_id=2.stor.example.com');
    assert.equal(one.length, 1);
    assert.equal(one[0]?.key, '2.stor.example.com');
    assert.equal(one[0]?._count, 1);
  });
});

describe('findObjects', () => {
  const prefix = '/acct/stor/find';
  const keys: string[] = [];

  before(async () => {
    const requests = [];
    for (let i = 0; i < 30; i++) {
      const key = `${prefix}/o${String(i).padStart(2, '0')}`;
      keys.push(key);
      requests.push({
        bucket: 'manta',
        operation: 'put',
        key,
        value: mantaObject(key, {
          type: i % 3 === 0 ? 'directory' : 'object',
          contentLength: i,
          color: i % 2 === 0 ? 'red' : 'blue',
          name: i === 7 ? 'a(b)*c' : `o${i}`,
        }),
        options: opts(),
      });
    }
    await client.call('batch', [requests, opts()]);
  });

  const dirFilter = `(dirname=${prefix})`;

  test('equality on an indexed field; records carry _count', async () => {
    const rows = await find('manta', `(&${dirFilter}(type=directory))`);
    assert.equal(rows.length, 10);
    for (const r of rows) {
      assert.equal(r._count, 10);
      assert.equal((r.value as { type: string }).type, 'directory');
      assert.deepEqual(Object.keys(r), [
        'bucket',
        'key',
        'value',
        '_id',
        '_etag',
        '_mtime',
        '_txn_snap',
        '_count',
      ]);
    }
  });

  test('no_count leaves _count out', async () => {
    const rows = await find('manta', dirFilter, { no_count: true, limit: 2 });
    assert.equal(rows.length, 2);
    assert.equal('_count' in rows[0]!, false);
  });

  test('non-indexed fields are post-filtered in JS after LIMIT (short pages), _count counts SQL matches', async () => {
    const sort = { attribute: '_id', order: 'ASC' };
    const page = await find('manta', `(&${dirFilter}(color=red))`, { limit: 10, sort });
    assert.equal(page.length, 5);
    for (const r of page) {
      assert.equal((r.value as { color: string }).color, 'red');
      assert.equal(r._count, 30);
    }
    // A non-indexed number never equals the filter's string.
    assert.equal((await find('manta', `(&${dirFilter}(contentLength=4))`)).length, 0);
    // Ranges on non-indexed numbers: JS comparison with the string, coerced.
    assert.equal((await find('manta', `(&${dirFilter}(contentLength>=25))`)).length, 5);
  });

  test('a filter with no indexed leaf is refused', async () => {
    await rejectsWith(
      find('manta', '(color=red)'),
      'InvalidQueryError',
      '(color=red) is an invalid filter',
    );
    await rejectsWith(
      find('manta', '(|(color=red)(type=object))'),
      'NotIndexedError',
      'manta does not have indexes that support (|(color=red)(type=object))',
    );
    await rejectsWith(
      find('manta', '(type=object'),
      'InvalidQueryError',
      '(type=object is an invalid filter',
    );
  });

  test('escaped values and substrings', async () => {
    const rows = await find('manta', `(&${dirFilter}(name=a\\28b\\29\\2ac))`);
    assert.deepEqual(
      rows.map((r) => r.key),
      [keys[7]],
    );
    const sub = await find('manta', `(&${dirFilter}(name=o1*))`, { sort: { attribute: 'name' } });
    assert.deepEqual(
      sub.map((r) => (r.value as { name: string }).name),
      ['o1', 'o10', 'o11', 'o12', 'o13', 'o14', 'o15', 'o16', 'o17', 'o18', 'o19'],
    );
    // The final part is anchored by the JS re-check, not by SQL's LIKE.
    const fin = await find('manta', `(&${dirFilter}(name=*9))`);
    assert.deepEqual(fin.map((r) => (r.value as { name: string }).name).sort(), [
      'o19',
      'o29',
      'o9',
    ]);
  });

  test('presence, negation and or', async () => {
    assert.equal((await find('manta', `(&${dirFilter}(objectId=*))`)).length, 30);
    assert.equal((await find('manta', `(&${dirFilter}(!(type=directory)))`)).length, 20);
    const either = await find('manta', `(&${dirFilter}(|(name=o1)(name=o2)))`);
    assert.equal(either.length, 2);
  });

  test('paging with limit, offset and sort on _id; ranges on _id', async () => {
    const sort = { attribute: '_id', order: 'ASC' };
    const all = await find('manta', dirFilter, { sort });
    assert.deepEqual(
      all.map((r) => r.key),
      keys,
    );
    const ids = all.map((r) => r._id as number);
    const page = await find('manta', dirFilter, { sort, limit: 5, offset: 10 });
    assert.deepEqual(
      page.map((r) => r._id),
      ids.slice(10, 15),
    );
    const desc = await find('manta', dirFilter, {
      sort: { attribute: '_id', order: 'DESC' },
      limit: '3',
    });
    assert.deepEqual(
      desc.map((r) => r._id),
      ids.slice(-3).reverse(),
    );
    const window = await find('manta', `(&(_id>=${ids[3]})(_id<=${ids[6]})(type=object))`, {
      sort,
      no_count: true,
    });
    assert.deepEqual(
      window.map((r) => r._id),
      [ids[4], ids[5]],
    );
  });

  test('limit 0 means the default 1000; noLimit lifts it', async () => {
    const requests = [];
    for (let i = 0; i < 1005; i++) {
      requests.push({
        bucket: 'manta_storage',
        key: `many-${i}`,
        value: { manta_storage_id: 'many' },
      });
    }
    await client.call('batch', [requests, opts()]);
    assert.equal(
      (await find('manta_storage', '(manta_storage_id=many)', { limit: 0, no_count: true })).length,
      1000,
    );
    const unlimited = await find('manta_storage', '(manta_storage_id=many)', { noLimit: true });
    assert.equal(unlimited.length, 1005);
    assert.equal(unlimited[0]?._count, 1005);
    assert.equal(
      (
        await client.call('deleteMany', [
          'manta_storage',
          '(manta_storage_id=many)',
          opts({ noLimit: true }),
        ])
      )[0] !== undefined,
      true,
    );
  });

  test('sql_only returns the generated SQL', async () => {
    const reqId = '11111111-2222-4333-8444-555555555555';
    const [out] = await find('manta', '(&(_id>=1000)(_id<=1999)(type=object))', {
      req_id: reqId,
      limit: 1000,
      sort: { attribute: '_id', order: 'ASC' },
      no_count: true,
      sql_only: true,
    });
    assert.deepEqual(out, {
      query: `SELECT *, '${reqId}' AS req_id FROM manta WHERE  ( ( $1 <= _id AND _id IS NOT NULL ) ) AND ( ( $2 >= _id AND _id IS NOT NULL ) ) AND ( ( $3 = type AND type IS NOT NULL ) )  ORDER BY _id ASC LIMIT 1000`,
      args: [1000, 1999, 'object'],
    });
  });

  test('sendHandledOptions puts the _handledOptions record first', async () => {
    const rows = await find('manta', dirFilter, {
      limit: 1,
      internalOpts: { sendHandledOptions: true },
    });
    assert.ok(Array.isArray(rows[0]?._handledOptions));
    assert.equal(rows.length, 2);
  });
});

describe('batch, updateObjects, deleteMany', () => {
  test('a batch returns one entry per operation, in order', async () => {
    const k1 = '/acct/stor/batch1';
    const k2 = '/acct/stor/batch2';
    const e1 = await put('manta', k1, mantaObject(k1));
    const [out] = await client.call('batch', [
      [
        {
          operation: 'put',
          bucket: 'manta',
          key: k1,
          value: mantaObject(k1, { mtime: 9 }),
          options: opts({ etag: e1 }),
        },
        { bucket: 'manta', key: k2, value: mantaObject(k2), options: opts({ etag: null }) },
        { operation: 'delete', bucket: 'manta', key: k2, options: opts() },
      ],
      opts(),
    ]);
    const { etags } = out as { etags: Record<string, unknown>[] };
    assert.equal(etags.length, 3);
    assert.deepEqual(Object.keys(etags[0]!), ['bucket', 'etag', 'key']);
    assert.equal(etags[0]?.key, k1);
    assert.equal(etags[0]?.etag, (await get('manta', k1))._etag);
    assert.deepEqual(etags[2], { bucket: 'manta', key: k2 });
  });

  test('a failing operation rolls back the earlier ones', async () => {
    const k1 = '/acct/stor/atomic1';
    const k2 = '/acct/stor/atomic2';
    const e2 = await put('manta', k2, mantaObject(k2));
    await rejectsWith(
      client.call('batch', [
        [
          { bucket: 'manta', key: k1, value: mantaObject(k1), options: opts() },
          {
            bucket: 'manta',
            key: k2,
            value: mantaObject(k2, { mtime: 3 }),
            options: opts({ etag: 'CCCCCCCC' }),
          },
        ],
        opts(),
      ]),
      'EtagConflictError',
      `manta::${k2} was expected to have etag "CCCCCCCC", but was "${e2}"`,
    );
    await rejectsWith(
      client.call('getObject', ['manta', k1, opts()]),
      'ObjectNotFoundError',
      `manta::${k1} does not exist`,
    );
    assert.equal((await get('manta', k2))._etag, e2);
  });

  test('updateObjects changes index columns only, with one u-etag', async () => {
    const dir = '/acct/stor/upd';
    for (const n of ['a', 'b', 'c']) await put('manta', `${dir}/${n}`, mantaObject(`${dir}/${n}`));
    const [out] = await client.call('updateObjects', [
      'manta',
      { owner: 'other' },
      `(dirname=${dir})`,
      opts(),
    ]);
    const { count, etag } = out as { count: number; etag: string };
    assert.equal(count, 3);
    assert.match(etag, /^u[0-9a-f]{7}$/);
    const record = await get('manta', `${dir}/a`);
    assert.equal((record.value as { owner: string }).owner, 'other');
    assert.equal(record._etag, etag);
    const { rows } = await tdb.db.query('SELECT _value, owner FROM manta WHERE _key = $1', [
      `${dir}/a`,
    ]);
    assert.equal(JSON.parse(rows[0]?._value as string).owner, 'acct');
    assert.equal(rows[0]?.owner, 'other');
    await rejectsWith(
      client.call('updateObjects', ['manta', {}, `(dirname=${dir})`, opts()]),
      'FieldUpdateError',
      '{} is not a valid update definition',
    );
    await rejectsWith(
      client.call('updateObjects', ['manta', { color: 'x' }, `(dirname=${dir})`, opts()]),
      'NotIndexedError',
      'manta does not have indexes that support {"color":"x"}',
    );
    await rejectsWith(
      client.call('updateObjects', ['manta', { owner: null }, `(dirname=${dir})`, opts()]),
      'NotNullableError',
      'index "owner" (of type "string") cannot store null values',
    );
    const [deleted] = await client.call('deleteMany', ['manta', `(dirname=${dir})`, opts()]);
    assert.deepEqual(deleted, { count: 3 });
  });
});

describe('sql', () => {
  test('SELECT MAX(_id) FROM manta gives the BIGINT as a string', async () => {
    const rows = (await client.call('sql', [
      'SELECT MAX(_id) FROM manta;',
      [],
      { limit: 1, no_count: true },
    ])) as {
      max: unknown;
    }[];
    assert.equal(rows.length, 1);
    assert.equal(typeof rows[0]?.max, 'string');
    const { rows: direct } = await tdb.db.query('SELECT MAX(_id) AS m FROM manta');
    assert.equal(rows[0]?.max, direct[0]?.m);
  });

  test("sharkspotter's window query returns raw rows, one per DATA frame", async () => {
    const k = sampleMantaRecord().key as string;
    const { rows: idRows } = await tdb.db.query('SELECT _id FROM manta WHERE _key = $1', [k]);
    const id = Number(idRows[0]?._id);
    const statement = `SELECT * FROM manta WHERE _id >= ${id} AND _id <= ${id + 99} AND type = 'object' limit 100;`;
    const frames: unknown[] = [];
    for await (const row of client.request('sql', [statement, [], { timeout: 10000 }]))
      frames.push(row);
    const row = frames.find((r) => (r as { _key: string })._key === k) as Record<string, unknown>;
    assert.ok(row);
    assert.deepEqual(Object.keys(row), [
      '_id',
      '_txn_snap',
      '_key',
      '_value',
      '_etag',
      '_mtime',
      '_vnode',
      'dirname',
      'name',
      'owner',
      'objectid',
      'type',
    ]);
    assert.equal(row._id, String(id));
    assert.equal(row._value, JSON.stringify(sampleMantaRecord()));
    assert.equal(row._etag, SAMPLE_ETAG);
    assert.equal(typeof row._mtime, 'string');
    assert.equal(row._vnode, '23352');
    for (const r of frames) assert.equal((r as { type: string }).type, 'object');
  });

  test('parameters, writes and error mapping', async () => {
    assert.deepEqual(
      await client.call('sql', ['SELECT $1::int AS n, $2::text AS s', [3, 'x'], {}]),
      [{ n: 3, s: 'x' }],
    );
    assert.deepEqual(await client.call('sql', ['SELECT 1 WHERE false', [], {}]), []);
    const updated = await client.call('sql', [
      'UPDATE manta SET _mtime = _mtime WHERE _key = $1 RETURNING _key',
      [sampleMantaRecord().key],
      {},
    ]);
    assert.equal(updated.length, 1);
    await rejectsWith(
      client.call('sql', ['SELECT MAX(_idx) FROM manta;', [], {}]),
      'error',
      'column "_idx" does not exist',
    );
    await rejectsWith(
      client.call('sql', ['SELEKT 1', [], {}]),
      'InternalError',
      /^Invalid SQL: syntax error at or near "SELEKT"/,
    );
    const k = sampleMantaRecord().key as string;
    await rejectsWith(
      client.call('sql', [
        "INSERT INTO manta (_key, _value, _etag) VALUES ($1, '{}', 'AAAAAAAA')",
        [k],
        {},
      ]),
      'UniqueAttributeError',
      `"_key" is a unique attribute; value "${k}" already exists`,
    );
  });
});
