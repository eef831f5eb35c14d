import assert from 'node:assert/strict';
import { test } from 'node:test';
import { morayEtag } from '../../../src/sandbox/moray/etag.ts';
import { SAMPLE_ETAG, sampleMantaRecord } from './fixtures.ts';

test('the spec sample Manta record (714 bytes) has etag 7712D647', () => {
  const json = JSON.stringify(sampleMantaRecord());
  assert.equal(Buffer.byteLength(json), 714);
  assert.equal(morayEtag(json), SAMPLE_ETAG);
});

test('non-ASCII text is hashed by the low byte of each UTF-16 unit, as Moray does', () => {
  assert.equal(morayEtag('{"k":"é"}'), '22E6F7B3');
});

test('etags are zero-padded upper-case hex', () => {
  for (const text of ['', '{}', '{"a":1}', 'x'.repeat(1000)]) {
    assert.match(morayEtag(text), /^[0-9A-F]{8}$/);
  }
  assert.equal(morayEtag(''), '00000000');
});
