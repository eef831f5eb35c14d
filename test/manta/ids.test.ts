import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertMantaId,
  compareStorageIds,
  InvalidMantaIdError,
  isMantaId,
  isObjectNameHash,
  isStorageId,
  isUuid,
  parseStorageId,
  storageIdBaseUrl,
} from '../../src/manta/ids.ts';

const UUID = '2e08b069-d132-c25c-920c-945e3329e450';

describe('manta ids', () => {
  test('uuids (Manta ids need not be RFC 4122 versions)', () => {
    assert.equal(isUuid(UUID), true);
    assert.equal(isUuid(UUID.toUpperCase()), true);
    for (const bad of ['', 'abc', `${UUID}x`, UUID.replaceAll('-', ''), `../${UUID}`, 42]) {
      assert.equal(isUuid(bad), false, String(bad));
    }
  });

  test('token policy admits legacy fixture ids but no dot segments or separators', () => {
    assert.equal(isMantaId('rebalancer', 'token'), true);
    assert.equal(isMantaId('abc', 'token'), true);
    assert.equal(isMantaId('abc', 'uuid'), false);
    for (const bad of ['.', '..', '.hidden', 'a/b', 'a\\b', 'a..b', '', 'a b', 'a\0']) {
      assert.equal(isMantaId(bad, 'token'), false, bad);
    }
    assert.throws(() => assertMantaId('owner', '..', 'token'), InvalidMantaIdError);
  });

  test('object name hash is 32 lower-case hex', () => {
    assert.equal(isObjectNameHash('5d41402abc4b2a76b9719d911017c592'), true);
    assert.equal(isObjectNameHash('5D41402ABC4B2A76B9719D911017C592'), false);
    assert.equal(isObjectNameHash('5d41402abc4b2a76b9719d911017c59'), false);
  });

  test('storage ids: N.stor.domain, optional port; host:port only when allowed', () => {
    assert.deepEqual(parseStorageId('1.stor.us-east.joyent.us'), {
      host: '1.stor.us-east.joyent.us',
      port: undefined,
      storNumber: 1,
    });
    assert.deepEqual(parseStorageId('12.stor.coal.joyent.us:8080'), {
      host: '12.stor.coal.joyent.us',
      port: 8080,
      storNumber: 12,
    });
    assert.equal(isStorageId('127.0.0.1:8080'), false);
    assert.deepEqual(parseStorageId('127.0.0.1:8080', { allowHostPort: true }), {
      host: '127.0.0.1',
      port: 8080,
      storNumber: undefined,
    });
    assert.equal(isStorageId('localhost:8080', { allowHostPort: true }), true);
    assert.equal(isStorageId('[::1]:8080', { allowHostPort: true }), true);
    for (const bad of [
      '',
      'stor.x',
      '1.stor',
      '1.stor.x/evil',
      '1.stor.x@evil.com',
      '1.stor.x:0',
      '1.stor.x:65536',
      '1.stor.x:80/../a',
      'localhost',
      'localhost:',
      'localhost:abc',
      'evil.com/path:80',
      'user@host:80',
      '1.stor.x?q=1',
      '1.stor.x#f',
    ]) {
      assert.equal(isStorageId(bad, { allowHostPort: true }), false, bad);
    }
    assert.equal(storageIdBaseUrl('3.stor.a.b'), 'http://3.stor.a.b');
    assert.throws(() => storageIdBaseUrl('evil.com/x'), InvalidMantaIdError);
  });

  test('storinfo order: numeric by leading integer', () => {
    const ids = ['10.stor.x', '9.stor.x', '1.stor.x', 'localhost:1', '2.stor.x', '100.stor.a'];
    assert.deepEqual(ids.sort(compareStorageIds), [
      '1.stor.x',
      '2.stor.x',
      '9.stor.x',
      '10.stor.x',
      '100.stor.a',
      'localhost:1',
    ]);
  });
});
