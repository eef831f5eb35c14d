import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc16Arc, crc16ArcSliced } from '../../src/fast/index.ts';

test('crc16ArcSliced equals crc16Arc on any bytes and range', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (b % (bytes.length - start + 1));
      assert.equal(crc16ArcSliced(bytes, start, end), crc16Arc(bytes, start, end));
    }),
    { numRuns: 2000 },
  );
  // The CRC-16/ARC check value.
  assert.equal(crc16ArcSliced(Buffer.from('123456789')), 0xbb3d);
});
