/**
 * The real node-moray 4.1.4 client against our Moray stand-in (src/sandbox/moray): argument
 * orders, option shapes, record shapes and error names, end to end over Fast.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import { type MorayShard, startMorayShard } from '../../src/sandbox/moray/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  interopLibraries,
  type MorayEmitter,
  type NodeMorayClient,
  serverCause,
} from './support.ts';

const silent = createLogger({ name: 'interop', level: 'silent' });
const libs = interopLibraries('interop: node-moray 4.1.4');

const BUCKET = 'interop_objects';
const CONFIG = {
  index: { owner: { type: 'string' }, size: { type: 'number' } },
  options: { version: 1 },
};

function call<T>(fn: (cb: (err: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, result) => (err ? reject(err) : resolve(result)));
  });
}

function records(emitter: MorayEmitter): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const out: Record<string, unknown>[] = [];
    emitter
      .on('record', (r) => out.push(r))
      .on('end', () => resolve(out))
      .on('error', reject);
  });
}

if (libs) {
  describe('node-moray client ↔ Moray stand-in', () => {
    let tdb: TestDatabase;
    let shard: MorayShard;
    let moray: NodeMorayClient;

    before(async () => {
      tdb = await createTestDatabase();
      shard = await startMorayShard({ db: tdb.db, log: silent });
      // An IP address and port: cueball connects directly, no DNS SRV lookup.
      moray = libs.moray.createClient({
        host: shard.host,
        port: shard.port,
        log: libs.log,
        failFast: true,
      });
      await new Promise<void>((resolve, reject) => {
        moray.on('connect', resolve).on('error', reject);
      });
    });

    after(async () => {
      moray?.close();
      await shard?.close();
      await tdb?.drop();
    });

    test('createBucket, then getBucket (options first on the wire) parses the config', async () => {
      await call<void>((cb) => moray.createBucket(BUCKET, CONFIG, {}, cb));
      const bucket = await call<Record<string, unknown>>((cb) => moray.getBucket(BUCKET, {}, cb));
      assert.equal(bucket.name, BUCKET);
      assert.deepEqual(bucket.index, CONFIG.index);
      assert.deepEqual(bucket.pre, []);
      assert.deepEqual(bucket.post, []);
      assert.equal((bucket.options as { version: number }).version, 1);
      assert.ok(bucket.mtime instanceof Date && !Number.isNaN(bucket.mtime.getTime()));
    });

    test('getBucket of a missing bucket is a BucketNotFoundError', async () => {
      await assert.rejects(
        call((cb) => moray.getBucket('nosuchbucket', {}, cb)),
        (err: Error) => serverCause(err).name === 'BucketNotFoundError',
      );
    });

    test('putObject with etag conditions; a conflict is an EtagConflictError', async () => {
      const value = { owner: 'ü-owner', size: 10, note: '漢字' };
      const first = await call<{ etag: string }>((cb) =>
        moray.putObject(BUCKET, '/k1', value, { etag: null }, cb),
      );
      assert.match(first.etag, /^[0-9A-F]{8}$/);
      await assert.rejects(
        call((cb) => moray.putObject(BUCKET, '/k1', value, { etag: null }, cb)),
        (err: Error) => {
          const cause = serverCause(err);
          assert.equal(cause.name, 'EtagConflictError');
          assert.deepEqual(cause.context, {
            bucket: BUCKET,
            key: '/k1',
            expected: 'null',
            actual: first.etag,
          });
          return true;
        },
      );
      const second = await call<{ etag: string }>((cb) =>
        moray.putObject(BUCKET, '/k1', { ...value, size: 11 }, { etag: first.etag }, cb),
      );
      assert.notEqual(second.etag, first.etag);
      await assert.rejects(
        call((cb) => moray.putObject(BUCKET, '/k1', value, { etag: first.etag }, cb)),
        (err: Error) => serverCause(err).name === 'EtagConflictError',
      );
    });

    test('getObject returns the record shape of §2.4 with _count null', async () => {
      const obj = await call<Record<string, unknown>>((cb) =>
        moray.getObject(BUCKET, '/k1', {}, cb),
      );
      assert.deepEqual(Object.keys(obj), [
        'bucket',
        'key',
        'value',
        '_id',
        '_etag',
        '_mtime',
        '_txn_snap',
        '_count',
      ]);
      assert.equal(obj.bucket, BUCKET);
      assert.equal(obj.key, '/k1');
      assert.deepEqual(obj.value, { owner: 'ü-owner', size: 11, note: '漢字' });
      assert.equal(typeof obj._id, 'number');
      assert.equal(obj._count, null);
      await assert.rejects(
        call((cb) => moray.getObject(BUCKET, '/missing', {}, cb)),
        (err: Error) => serverCause(err).name === 'ObjectNotFoundError',
      );
    });

    test('batch puts in one transaction; a failing op rolls back the batch', async () => {
      const ops = [2, 3, 4].map((i) => ({
        bucket: BUCKET,
        key: `/k${i}`,
        value: { owner: 'batch', size: i },
        options: { etag: null },
      }));
      const out = await call<{ etags: Record<string, unknown>[] }>((cb) =>
        moray.batch(ops, {}, cb),
      );
      assert.equal(out.etags.length, 3);
      assert.deepEqual(
        out.etags.map((e) => [e.bucket, e.key, typeof e.etag]),
        [2, 3, 4].map((i) => [BUCKET, `/k${i}`, 'string']),
      );
      const failing = [
        { bucket: BUCKET, key: '/k5', value: { owner: 'batch', size: 5 }, options: { etag: null } },
        { bucket: BUCKET, key: '/k2', value: { owner: 'batch', size: 2 }, options: { etag: null } },
      ];
      await assert.rejects(
        call((cb) => moray.batch(failing, {}, cb)),
        (err: Error) => serverCause(err).name === 'EtagConflictError',
      );
      await assert.rejects(
        call((cb) => moray.getObject(BUCKET, '/k5', {}, cb)),
        (err: Error) => serverCause(err).name === 'ObjectNotFoundError',
      );
    });

    test('findObjects streams records with _count, or without it under no_count', async () => {
      const sort = { attribute: 'size', order: 'ASC' };
      const found = await records(moray.findObjects(BUCKET, '(owner=batch)', { sort }));
      assert.deepEqual(
        found.map((r) => [r.key, r._count]),
        [
          ['/k2', 3],
          ['/k3', 3],
          ['/k4', 3],
        ],
      );
      const paged = await records(
        moray.findObjects(BUCKET, '(size>=3)', { sort, limit: 1, no_count: true }),
      );
      assert.equal(paged.length, 1);
      assert.equal(paged[0]!.key, '/k3');
      assert.equal('_count' in paged[0]!, false);
      await assert.rejects(
        records(moray.findObjects(BUCKET, '(owner=', {})),
        (err: Error) => serverCause(err).name === 'InvalidQueryError',
      );
    });

    test('sql rows are raw PostgreSQL rows', async () => {
      const rows = await records(
        moray.sql(
          `SELECT _key, _id, size, _value FROM ${BUCKET} WHERE owner = $1 ORDER BY _key`,
          ['batch'],
          {},
        ),
      );
      assert.deepEqual(
        rows.map((r) => r._key),
        ['/k2', '/k3', '/k4'],
      );
      assert.equal(typeof rows[0]!._id, 'string', 'BIGINT arrives as a string');
      assert.equal(typeof rows[0]!._value, 'string');
      assert.deepEqual(JSON.parse(rows[0]!._value as string), { owner: 'batch', size: 2 });
    });

    test('delObject with a wrong etag conflicts; then deletes', async () => {
      await assert.rejects(
        call<void>((cb) => moray.delObject(BUCKET, '/k2', { etag: 'AAAAAAAA' }, cb)),
        (err: Error) => serverCause(err).name === 'EtagConflictError',
      );
      await call<void>((cb) => moray.delObject(BUCKET, '/k2', {}, cb));
      await assert.rejects(
        call<void>((cb) => moray.delObject(BUCKET, '/k2', {}, cb)),
        (err: Error) => serverCause(err).name === 'ObjectNotFoundError',
      );
    });
  });
}
