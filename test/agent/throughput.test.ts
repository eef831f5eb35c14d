import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ThroughputMeter } from '../../src/agent/throughput.ts';

describe('ThroughputMeter', () => {
  test('rate since start while younger than the window, then over the last 10 s', () => {
    let now = 1000;
    const meter = new ThroughputMeter(10, () => now);
    assert.equal(meter.perSecond(), 0);
    now = 1500;
    meter.add(1000);
    now = 3000;
    assert.equal(meter.perSecond(), 500, '1000 bytes in 2 s');
    // A steady 100 bytes every 100 ms for 20 s: 1000 bytes per second.
    for (let i = 0; i < 200; i++) {
      now += 100;
      meter.add(100);
    }
    const rate = meter.perSecond();
    assert.ok(Math.abs(rate - 1000) < 1000 * 0.11, `steady rate measured ${rate}`);
  });

  test('falls to zero once nothing arrived for a whole window', () => {
    let now = 0;
    const meter = new ThroughputMeter(10, () => now);
    meter.add(50_000);
    now = 5_000;
    assert.equal(meter.perSecond(), 10_000);
    now = 9_999;
    assert.ok(meter.perSecond() > 0);
    now = 10_000;
    assert.equal(meter.perSecond(), 0, 'the second of the burst left the window');
    now = 1_000_000;
    meter.add(10);
    assert.equal(meter.perSecond(), 10 / 9, 'after a long gap only the new bytes count');
  });
});
