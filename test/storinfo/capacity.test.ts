import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  assertMaxFillPercentage,
  fillLimitedCapacityMb,
  InvalidStorinfoNodeError,
  parseStorinfoNode,
} from '../../src/storinfo/index.ts';

test('spec worked example: 900 MB free, 10 % used, max fill 80 % → 700 MB before reservations', () => {
  assert.equal(fillLimitedCapacityMb(900, 10, 80), 700);
});

test('edges: at or over the fill limit → 0; 100 % fill → everything free', () => {
  assert.equal(fillLimitedCapacityMb(1000, 80, 80), 0);
  assert.equal(fillLimitedCapacityMb(1000, 100, 100), 0);
  assert.equal(fillLimitedCapacityMb(0, 0, 100), 0);
  assert.equal(fillLimitedCapacityMb(123_456, 0, 100), 123_456);
  assert.equal(fillLimitedCapacityMb(123_456, 37, 100), 123_456);
});

test('capacity never exceeds free space nor the fill limit of the total', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 1, max: 100 }),
      (avail, pu, mf) => {
        const cap = fillLimitedCapacityMb(avail, pu, mf);
        assert.ok(Number.isSafeInteger(cap) && cap >= 0);
        assert.ok(cap <= avail);
        if (cap > 0) {
          // used + cap ≤ mf % of total (within the spec's floors).
          const total = (avail * 100) / (100 - pu);
          assert.ok(total - avail + cap <= (total * mf) / 100 + 1);
        }
      },
    ),
  );
});

test('max_fill_percentage outside (0, 100] is refused (L asserted)', () => {
  assert.throws(() => assertMaxFillPercentage(0), RangeError);
  assert.throws(() => assertMaxFillPercentage(101), RangeError);
  assert.throws(() => assertMaxFillPercentage(Number.NaN), RangeError);
  assertMaxFillPercentage(100);
});

test('parseStorinfoNode names the faulty field', () => {
  const good = {
    availableMB: 1,
    percentUsed: 2,
    filesystem: '/manta',
    datacenter: 'dc',
    manta_storage_id: '1.stor.x',
    timestamp: 3,
  };
  assert.deepEqual(parseStorinfoNode({ ...good, extra: 1 }, 0), good);
  for (const [field, value] of [
    ['availableMB', -1],
    ['percentUsed', 101],
    ['timestamp', '3'],
    ['datacenter', 7],
  ] as const) {
    assert.throws(
      () => parseStorinfoNode({ ...good, [field]: value }, 4),
      (err: unknown) =>
        err instanceof InvalidStorinfoNodeError && err.field === field && err.index === 4,
      field,
    );
  }
  assert.throws(() => parseStorinfoNode(null, 0), /record 0: record is not a JSON object/);
});
