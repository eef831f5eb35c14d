import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeReason,
  decodeTaskStatus,
  makeTask,
  type ObjectSkippedReason,
  parseReasonDbForm,
  reasonDbForm,
  reasonSnake,
  UNIT_SKIPPED_REASONS,
} from '../../src/api/common.ts';

const source = { datacenter: 'dc', manta_storage_id: '3.stor.us-west.joyent.us' };

describe('L wire encodings', () => {
  test('task status encodings are serde external tagging', () => {
    assert.equal(JSON.stringify('Pending'), '"Pending"');
    assert.equal(JSON.stringify({ Failed: 'MD5Mismatch' }), '{"Failed":"MD5Mismatch"}');
    assert.deepEqual(decodeTaskStatus({ Failed: { HTTPStatusCode: 500 } }), {
      Failed: { HTTPStatusCode: 500 },
    });
    assert.equal(decodeTaskStatus('Complete'), 'Complete');
    assert.equal(decodeTaskStatus('Running'), undefined, 'there is no Running task status');
    assert.equal(decodeTaskStatus({ Failed: { Failed: 'MD5Mismatch' } }), undefined);
  });

  test('D encodings are accepted on input', () => {
    assert.equal(decodeTaskStatus({ state: 'Pending' }), 'Pending');
    assert.deepEqual(decodeTaskStatus({ state: 'Failed', reason: { type: 'MD5Mismatch' } }), {
      Failed: 'MD5Mismatch',
    });
    assert.deepEqual(
      decodeTaskStatus({ state: 'Failed', reason: { type: 'HTTPStatusCode', status_code: 404 } }),
      { Failed: { HTTPStatusCode: 404 } },
    );
    assert.equal(decodeReason({ type: 'Bogus' }), undefined);
    assert.equal(decodeReason({ HTTPStatusCode: 70000 }), undefined);
  });

  test('makeTask keeps L field order and leaves absent v2 fields out', () => {
    const v1 = makeTask({ object_id: 'o', owner: 'w', md5sum: 'm', source, status: 'Pending' });
    assert.equal(
      JSON.stringify(v1),
      '{"object_id":"o","owner":"w","md5sum":"m","source":{"datacenter":"dc","manta_storage_id":"3.stor.us-west.joyent.us"},"status":"Pending"}',
    );
    const v2 = makeTask({
      object_id: 'o',
      owner: 'w',
      md5sum: 'm',
      source,
      status: 'Pending',
      bucket_id: 'b',
      object_name_hash: 'h',
    });
    assert.deepEqual(Object.keys(v2).slice(-2), ['bucket_id', 'object_name_hash']);
  });

  test('snake names and database forms (agent.md §3.4)', () => {
    assert.equal(reasonSnake('AgentFSError'), 'agent_fs_error');
    assert.equal(reasonSnake('MD5Mismatch'), 'md5_mismatch');
    assert.equal(reasonSnake({ HTTPStatusCode: 404 }), 'http_status_code');
    assert.equal(reasonDbForm({ HTTPStatusCode: 404 }), '{http_status_code:404}');
    assert.equal(reasonDbForm('SourceIsEvacShark'), 'source_is_evac_shark');
    assert.equal(parseReasonDbForm('{md5_mismatch:3}'), undefined);
    assert.equal(UNIT_SKIPPED_REASONS.length, 17);
  });

  test('every reason round-trips through L JSON and the database form', () => {
    const reason = fc.oneof(
      fc.constantFrom(...UNIT_SKIPPED_REASONS),
      fc.integer({ min: 0, max: 65535 }).map((n) => ({ HTTPStatusCode: n })),
    ) as fc.Arbitrary<ObjectSkippedReason>;
    fc.assert(
      fc.property(reason, (r) => {
        assert.deepEqual(decodeReason(JSON.parse(JSON.stringify(r))), r);
        assert.deepEqual(decodeTaskStatus(JSON.parse(JSON.stringify({ Failed: r }))), {
          Failed: r,
        });
        assert.deepEqual(parseReasonDbForm(reasonDbForm(r)), r);
        assert.notEqual(reasonSnake(r), '');
      }),
    );
  });
});
