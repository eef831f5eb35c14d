/**
 * Runs of `etag: null` puts in a batch go into one multi-row INSERT; results and errors must be
 * those of the puts done one by one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastClient } from '../../../src/fast/index.ts';
import { morayEtag } from '../../../src/sandbox/moray/etag.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { type MorayShard, startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { fastClient, opts, rejectsWith, silent } from './helpers.ts';

let tdb: TestDatabase;
let shard: MorayShard;
let client: FastClient;

before(async () => {
  tdb = await createTestDatabase();
  shard = await startMorayShard({ db: tdb.db, log: silent });
  client = fastClient(shard.port);
  await client.call('createBucket', ['manta', MANTA_BUCKET, opts()]);
});

after(async () => {
  await client?.close();
  await shard?.close();
  await tdb?.drop();
});

const value = (key: string, extra: Record<string, unknown> = {}) => ({
  dirname: '/acct/stor/b',
  key,
  name: key.slice(key.lastIndexOf('/') + 1),
  owner: 'acct',
  type: 'object',
  objectId: `id-${key}`,
  sharks: [{ datacenter: 'dc1', manta_storage_id: '1.stor' }],
  vnode: 3,
  ...extra,
});
const putIfAbsent = (key: string, extra: Record<string, unknown> = {}) => ({
  bucket: 'manta',
  operation: 'put',
  key,
  value: value(key, extra),
  options: { etag: null },
});

describe('batch of insert-if-absent puts', () => {
  test('entries and stored rows are those of one-by-one puts', async () => {
    const keys = ['/acct/stor/b/1', '/acct/stor/b/2', '/acct/stor/b/3'];
    const [out] = await client.call('batch', [keys.map((k) => putIfAbsent(k)), opts()]);
    assert.deepEqual(
      (out as { etags: unknown[] }).etags,
      keys.map((k) => ({
        bucket: 'manta',
        etag: morayEtag(JSON.stringify(value(k))),
        key: k,
      })),
    );
    const { rows } = await tdb.db.query(
      'SELECT _key, _value, _etag, _vnode, dirname, name, owner, objectid, type FROM manta ORDER BY _key',
    );
    assert.deepEqual(
      rows,
      keys.map((k) => {
        const v = value(k);
        const json = JSON.stringify(v);
        return {
          _key: k,
          _value: json,
          _etag: morayEtag(json),
          _vnode: '3',
          dirname: v.dirname,
          name: v.name,
          owner: v.owner,
          objectid: v.objectId,
          type: v.type,
        };
      }),
    );
  });

  test('an existing key fails the batch with its EtagConflictError, writing nothing', async () => {
    const existing = '/acct/stor/b/1';
    const [stored] = (await client.call('getObject', ['manta', existing, opts()])) as {
      _etag: string;
    }[];
    await rejectsWith(
      client.call('batch', [
        [putIfAbsent('/acct/stor/b/new1'), putIfAbsent(existing), putIfAbsent('/acct/stor/b/new2')],
        opts(),
      ]),
      'EtagConflictError',
      `manta::${existing} was expected to have etag "null", but was "${stored!._etag}"`,
    );
    const { rows } = await tdb.db.query("SELECT _key FROM manta WHERE _key LIKE '%/new%'");
    assert.deepEqual(rows, []);
  });

  test('a key repeated in the batch conflicts with its own first put', async () => {
    const key = '/acct/stor/b/twice';
    await rejectsWith(
      client.call('batch', [[putIfAbsent(key), putIfAbsent(key, { mtime: 2 })], opts()]),
      'EtagConflictError',
      new RegExp(`^manta::${key} was expected to have etag "null", but was "[0-9A-F]{8}"$`),
    );
    const { rows } = await tdb.db.query('SELECT _key FROM manta WHERE _key = $1', [key]);
    assert.deepEqual(rows, []);
  });
});
