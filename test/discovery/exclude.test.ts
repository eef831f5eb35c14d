import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EXCLUDE_KEY_PREFIXES, keyExcluder } from '../../src/discovery/index.ts';

const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';

test('L semantics: defaults match by substring of the key', () => {
  const ex = keyExcluder(DEFAULT_EXCLUDE_KEY_PREFIXES);
  assert.equal(ex(`/${OWNER}/stor/logs/muskie/2026/x.log`), '/stor/logs/');
  assert.equal(ex(`/${OWNER}/stor/usage/assets/y`), '/stor/usage/');
  assert.equal(ex(`/${OWNER}/stor/manatee_backups/1.stor/z`), '/stor/manatee_backups/');
  assert.equal(ex(`/${OWNER}/stor/data/logs/x`), undefined);
  // Substring: a deeper path also matches (L behaviour).
  assert.equal(ex(`/${OWNER}/stor/project/stor/logs/x`), '/stor/logs/');
});

test('["none"] and [] disable the filter; "none" among others is an ordinary entry', () => {
  assert.equal(keyExcluder(['none'])(`/${OWNER}/stor/logs/x`), undefined);
  assert.equal(keyExcluder([])(`/${OWNER}/stor/logs/x`), undefined);
  assert.equal(keyExcluder(['none', '/stor/logs/'])(`/${OWNER}/stor/logs/x`), '/stor/logs/');
  assert.equal(keyExcluder([''])('/anything'), undefined, 'an empty entry would match everything');
});

test('owner-prefix mode: the entry must start the key or its owner-relative path', () => {
  const ex = keyExcluder(DEFAULT_EXCLUDE_KEY_PREFIXES, 'owner-prefix');
  assert.equal(ex(`/${OWNER}/stor/logs/x`), '/stor/logs/');
  assert.equal(ex(`/${OWNER}/stor/project/stor/logs/x`), undefined);
  assert.equal(
    keyExcluder([`/${OWNER}/stor/tmp/`], 'owner-prefix')(`/${OWNER}/stor/tmp/a`),
    `/${OWNER}/stor/tmp/`,
  );
});
