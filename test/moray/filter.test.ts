import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  and,
  eq,
  escapeFilterValue,
  ge,
  le,
  not,
  or,
  present,
  substring,
} from '../../src/moray/index.ts';

/** Decodes a value the way moray-filter does (§3.7.1): `\XX` hex and `\c` for ()*\\=. */
function decodeValue(text: string): string {
  return text.replace(/\\([0-9a-fA-F]{2}|[()*\\=])/g, (_, e: string) =>
    e.length === 2 ? String.fromCharCode(Number.parseInt(e, 16)) : e,
  );
}

describe('filter builder', () => {
  test('composes LDAP-style filters', () => {
    assert.equal(String(and(eq('type', 'object'), ge('_id', 10))), '(&(type=object)(_id>=10))');
    assert.equal(
      String(or(eq('manta_storage_id', '1.stor.example.com'), le('_mtime', 5))),
      '(|(manta_storage_id=1.stor.example.com)(_mtime<=5))',
    );
    assert.equal(String(not(present('vnode'))), '(!(vnode=*))');
    assert.equal(String(eq('flag', true)), '(flag=true)');
    assert.equal(String(substring('key', '/a', ['b'], 'c')), '(key=/a*b*c)');
  });

  test('escapes ( ) * \\ and NUL as \\XX', () => {
    assert.equal(escapeFilterValue('a(b)c*d\\e\0f'), 'a\\28b\\29c\\2ad\\5ce\\00f');
    assert.equal(String(eq('key', '/x*(y)')), '(key=/x\\2a\\28y\\29)');
    assert.equal(String(eq('name', 'café ☃')), '(name=café ☃)');
  });

  test('rejects attribute names that could change the structure, and empty and/or', () => {
    assert.throws(() => eq('a)(b', 'x'), TypeError);
    assert.throws(() => eq('a=b', 'x'), TypeError);
    assert.throws(() => and(), TypeError);
    assert.throws(() => or(), TypeError);
    assert.throws(() => ge('_id', Number.NaN), TypeError);
  });

  test('property: an escaped value has no structural characters and decodes back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const escaped = escapeFilterValue(value);
        assert.ok(!/[()*\0]/.test(escaped));
        assert.equal(decodeValue(escaped), value);
      }),
    );
  });
});
