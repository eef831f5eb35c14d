/**
 * Multipart-upload helpers: the anchored key patterns of parts and upload records, the
 * upload-record name guard, and the rewrite of both header copies of the pre-allocated
 * sharks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidMantaIdError } from '../../src/manta/errors.ts';
import {
  mpuPartUploadId,
  mpuUploadRecordId,
  PREALLOCATED_SHARKS_HEADER,
  rewriteUploadRecordSharks,
  UPLOAD_RECORD_HEADER,
  UploadRecordError,
  uploadRecordName,
} from '../../src/manta/mpu.ts';

describe('key patterns', () => {
  test('parts and upload records are recognised by their whole name only', () => {
    assert.equal(
      mpuPartUploadId('.mpu-parts/lx0abc-0123456789abcdef/1'),
      'lx0abc-0123456789abcdef',
    );
    assert.equal(mpuPartUploadId('.mpu-parts/u/10000'), 'u');
    for (const name of [
      '.mpu-parts/u',
      '.mpu-parts/u/x',
      '.mpu-parts/u/1/2',
      'a/.mpu-parts/u/1',
      '/acct/stor/.mpu-parts/u/1',
      '.mpu-parts//1',
    ]) {
      assert.equal(mpuPartUploadId(name), undefined, name);
    }
    assert.equal(mpuUploadRecordId('.mpu-uploads/u1'), 'u1');
    assert.equal(mpuUploadRecordId('.mpu-uploads/u1/x'), undefined);
    assert.equal(mpuUploadRecordId('x.mpu-uploads/u1'), undefined);
  });

  test('an upload id that could name another object is refused', () => {
    assert.equal(uploadRecordName('u1'), '.mpu-uploads/u1');
    for (const id of ['', 'a/b', 'a\0b', '..', 'x..y']) {
      assert.throws(() => uploadRecordName(id), InvalidMantaIdError, JSON.stringify(id));
    }
  });
});

describe('rewriteUploadRecordSharks', () => {
  const old = { datacenter: 'dc1', manta_storage_id: '1.stor.example.com' };
  const other = { datacenter: 'dc2', manta_storage_id: '2.stor.example.com', zone: 'z2' };
  const dest = { datacenter: 'dc3', manta_storage_id: '3.stor.example.com' };
  const entries = [{ ...old, zone: 'z1', availableMB: 5, percentUtilized: 12.5 }, other];
  const record = { uploadId: 'u1', key: 'k', parts: [], preAllocatedSharks: entries, extra: true };
  const headers = {
    [UPLOAD_RECORD_HEADER]: JSON.stringify(record),
    [PREALLOCATED_SHARKS_HEADER]: JSON.stringify(entries),
    'x-durability-level': '2',
    'x-null': null,
  };

  test('both copies name the destination; other entries and members are kept', () => {
    const out = rewriteUploadRecordSharks(headers, old.manta_storage_id, dest);
    assert.ok(out);
    assert.equal(out.replaced, 2);
    const want = [{ ...dest, zone: 'z1', availableMB: 5, percentUtilized: 12.5 }, other];
    assert.deepEqual(JSON.parse(String(out.headers[PREALLOCATED_SHARKS_HEADER])), want);
    assert.deepEqual(JSON.parse(String(out.headers[UPLOAD_RECORD_HEADER])), {
      ...record,
      preAllocatedSharks: want,
    });
    assert.equal(out.headers['x-durability-level'], '2');
    assert.equal(out.headers['x-null'], null);
    assert.equal(headers[PREALLOCATED_SHARKS_HEADER], JSON.stringify(entries), 'input untouched');
  });

  test('nothing to do when no entry names the shark, or there is no record', () => {
    assert.equal(rewriteUploadRecordSharks(headers, '9.stor.example.com', dest), undefined);
    assert.equal(rewriteUploadRecordSharks({ a: 'b' }, old.manta_storage_id, dest), undefined);
  });

  test('one copy alone is rewritten too', () => {
    const only = { [PREALLOCATED_SHARKS_HEADER]: JSON.stringify([old]) };
    const out = rewriteUploadRecordSharks(only, old.manta_storage_id, dest);
    assert.deepEqual(out, {
      headers: { [PREALLOCATED_SHARKS_HEADER]: JSON.stringify([dest]) },
      replaced: 1,
    });
  });

  test('a copy that is not the JSON buckets-api writes is an UploadRecordError', () => {
    const bads: Record<string, string>[] = [
      { [UPLOAD_RECORD_HEADER]: '{' },
      { [UPLOAD_RECORD_HEADER]: '[]' },
      { [UPLOAD_RECORD_HEADER]: '{"preAllocatedSharks": {}}' },
      { [PREALLOCATED_SHARKS_HEADER]: '[1]' },
    ];
    for (const bad of bads) {
      assert.throws(
        () => rewriteUploadRecordSharks(bad, old.manta_storage_id, dest),
        (err: unknown) =>
          err instanceof UploadRecordError && err.code === 'mpu_upload_record_invalid',
      );
    }
  });
});
