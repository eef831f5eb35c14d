import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bytes,
  count,
  duration,
  megabytes,
  percent,
  rate,
  shortId,
  time,
} from '../../src/ui/format.ts';

describe('console formatting', () => {
  test('counts and sizes', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.equal(count(0), '0');
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(1536), '1.5 KiB');
    assert.equal(bytes(10 * 1024 ** 3), '10 GiB');
    assert.equal(bytes(1024 ** 2), '1 MiB');
    assert.equal(megabytes(1536), '1.5 GiB');
  });

  test('rates keep the precision that matters', () => {
    assert.equal(rate(0), '0');
    assert.equal(rate(0.25), '0.3');
    assert.equal(rate(9.94), '9.9');
    assert.equal(rate(1234.4), '1,234');
  });

  test('durations', () => {
    assert.equal(duration(45), '45s');
    assert.equal(duration(44.2), '45s');
    assert.equal(duration(725), '12m 05s');
    assert.equal(duration(3 * 3600 + 120), '3h 02m');
    assert.equal(duration(2 * 86_400 + 4 * 3600), '2d 04h');
  });

  test('percentages: never 100% early, never 0% once started', () => {
    assert.equal(percent(0, 0), '0%');
    assert.equal(percent(0, 10), '0%');
    assert.equal(percent(1, 1000), '0.1%');
    assert.equal(percent(42, 100), '42%');
    assert.equal(percent(9995, 10000), '99.9%');
    assert.equal(percent(99999, 100000), '99.9%');
    assert.equal(percent(10, 10), '100%');
  });

  test('times in the local zone; what is not a time stays as it is', () => {
    const at = new Date(2024, 4, 1, 13, 4, 5);
    assert.equal(time(at.toISOString()), '2024-05-01 13:04:05');
    assert.equal(time('soon'), 'soon');
  });

  test('short job ids', () => {
    assert.equal(shortId('0f8fad5b-d9cb-469f-a165-70867728950e'), '0f8fad5b');
  });
});
