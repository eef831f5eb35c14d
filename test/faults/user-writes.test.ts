/** The verifier's check of user writes (src/sandbox/verify.ts verifyUserWrites). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ObjectSnapshot,
  type ObjectState,
  type UserWrittenRecord,
  verifyUserWrites,
} from '../../src/sandbox/verify.ts';

const live: ObjectState = {
  key: '/o/stor/a',
  shard: '1.moray.test',
  objectId: 'id-new',
  owner: 'o',
  contentMD5: 'md5-new',
  sharks: ['2.stor.test', '3.stor.test'],
  etag: 'e1',
  contentLength: 10,
  headers: { 'm-user-write': 'mark-1' },
};
const wrote: UserWrittenRecord = {
  deleted: false,
  objectId: 'id-new',
  owner: 'o',
  contentMD5: 'md5-new',
  contentLength: 10,
  sharks: ['2.stor.test', '3.stor.test'],
  headers: { 'm-user-write': 'mark-1' },
};
const snapshot = (...objects: ObjectState[]): ObjectSnapshot =>
  new Map(objects.map((o) => [o.key, o]));

test('the live record the user wrote passes, even with its copies moved', () => {
  const moved = { ...live, sharks: ['4.stor.test', '3.stor.test'], etag: 'e2' };
  assert.deepEqual(verifyUserWrites(snapshot(moved), new Map([[live.key, wrote]])), []);
});

test('an older version put back over the user write is clobbered', () => {
  const old = { ...live, objectId: 'id-old', contentMD5: 'md5-old', headers: {} };
  const problems = verifyUserWrites(snapshot(old), new Map([[live.key, wrote]]));
  assert.equal(problems.length, 1);
  assert.match(problems[0]?.problem ?? '', /objectId id-old.*contentMD5 md5-old.*m-user-write/);
});

test('the user metadata update lost (same objectId, old headers) is clobbered', () => {
  const stale = { ...live, headers: { 'm-user-write': 'mark-0' } };
  assert.equal(verifyUserWrites(snapshot(stale), new Map([[live.key, wrote]])).length, 1);
});

test('a deleted key must stay deleted, a written one must exist', () => {
  const deleted: UserWrittenRecord = { deleted: true };
  assert.match(
    verifyUserWrites(snapshot(live), new Map([[live.key, deleted]]))[0]?.problem ?? '',
    /live again/,
  );
  assert.deepEqual(verifyUserWrites(snapshot(), new Map([[live.key, deleted]])), []);
  assert.match(
    verifyUserWrites(snapshot(), new Map([[live.key, wrote]]))[0]?.problem ?? '',
    /gone/,
  );
});
