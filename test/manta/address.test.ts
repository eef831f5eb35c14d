import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HostAliasError,
  parseHostAliases,
  resolveAddress,
  resolveAuthority,
  storageIdBaseUrl,
} from '../../src/manta/index.ts';

const aliases = parseHostAliases({
  '1.stor.sandbox.test:80': '127.0.0.1:41001',
  '1.stor.sandbox.test:7878': '127.0.0.1:42001',
  '1.moray.sandbox.test:2020': 'localhost:43001',
});

test('a name resolves to its alias for that port, else to itself', () => {
  assert.deepEqual(resolveAddress('1.stor.sandbox.test', 80, aliases), {
    host: '127.0.0.1',
    port: 41001,
  });
  assert.deepEqual(resolveAddress('1.stor.sandbox.test', 7878, aliases), {
    host: '127.0.0.1',
    port: 42001,
  });
  assert.deepEqual(resolveAddress('1.moray.sandbox.test:2020', 9999, aliases), {
    host: 'localhost',
    port: 43001,
  });
  assert.deepEqual(resolveAddress('2.stor.sandbox.test', 80, aliases), {
    host: '2.stor.sandbox.test',
    port: 80,
  });
  assert.equal(resolveAuthority('2.stor.sandbox.test', 80), '2.stor.sandbox.test');
  assert.equal(resolveAuthority('2.stor.sandbox.test', 7878), '2.stor.sandbox.test:7878');
});

test('storage ids use the mako alias (port 80) for their URL, and stay validated', () => {
  assert.equal(storageIdBaseUrl('1.stor.sandbox.test', { aliases }), 'http://127.0.0.1:41001');
  assert.equal(storageIdBaseUrl('3.stor.sandbox.test', { aliases }), 'http://3.stor.sandbox.test');
  assert.throws(() => storageIdBaseUrl('http://evil', { aliases }));
});

test('malformed aliases are rejected naming the entry', () => {
  assert.throws(() => parseHostAliases([]), HostAliasError);
  assert.throws(
    () => parseHostAliases({ 'no-port': '127.0.0.1:1' }),
    /key "no-port" is not name:port/,
  );
  assert.throws(
    () => parseHostAliases({ 'a.b:80': 'http://x:1' }),
    /host_aliases\["a.b:80"\]: "http:\/\/x:1" is not host:port/,
  );
  assert.throws(() => parseHostAliases({ 'a.b:80': '127.0.0.1:70000' }), HostAliasError);
});
