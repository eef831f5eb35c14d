import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isMantaObjectValue, mantaObjectProblem } from '../../src/manta/index.ts';
import { sampleMantaRecord } from '../support/manta-record.ts';

describe('MantaObjectValue', () => {
  test("the spec's record is one; a directory is not", () => {
    const record = sampleMantaRecord();
    assert.ok(isMantaObjectValue(record));
    const dir = { ...record, type: 'directory' };
    assert.equal(isMantaObjectValue(dir), false);
    assert.equal(mantaObjectProblem(dir), 'field type must be equal to constant');
  });

  test('an entry of sharks may carry other members (only the agent wire refuses them)', () => {
    const record = sampleMantaRecord();
    const sharks = [{ datacenter: 'dc1', manta_storage_id: '1.stor', zone: 'z' }];
    assert.ok(isMantaObjectValue({ ...record, sharks }));
    assert.equal(
      mantaObjectProblem({ ...record, sharks: [{ datacenter: 'dc1' }] }),
      'field sharks.0 must have required properties manta_storage_id',
    );
  });

  test('the members of a buckets object: name, headers with null values, any properties', () => {
    const record = {
      ...sampleMantaRecord(),
      bucket_id: 'b',
      name: 'photos/cat.jpg',
      headers: { 'm-foo': 'bar', 'x-maybe-null': null },
      properties: { any: ['json'] },
    };
    assert.ok(isMantaObjectValue(record));
    assert.ok(isMantaObjectValue({ ...record, properties: null }));
    // v1 headers are whatever muskie stored: a record is never refused for a header's type.
    assert.ok(isMantaObjectValue({ ...record, headers: { 'm-n': 1 } }));
    assert.equal(isMantaObjectValue({ ...record, headers: 'x' }), false);
    assert.equal(isMantaObjectValue({ ...record, name: 7 }), false);
  });
});
