import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FilterSyntaxError,
  filterToString,
  matchesFilter,
  parseFilter,
} from '../../../src/sandbox/moray/filter.ts';

const asString = (_attribute: string, value: string): unknown => value;
const lookup = (obj: Record<string, unknown>) => (attribute: string) => obj[attribute];

describe('parseFilter', () => {
  test('wraps a bare item in parentheses', () => {
    assert.deepEqual(parseFilter('manta_storage_id=1.stor.x'), {
      type: 'equal',
      attribute: 'manta_storage_id',
      value: '1.stor.x',
    });
  });

  test('parses and/or/not, presence, ranges and substrings', () => {
    const f = parseFilter('(&(_id>=1)(_id<=9)(|(type=object)(!(name=*)))(key=/a*b*c))');
    assert.deepEqual(f, {
      type: 'and',
      filters: [
        { type: 'ge', attribute: '_id', value: '1' },
        { type: 'le', attribute: '_id', value: '9' },
        {
          type: 'or',
          filters: [
            { type: 'equal', attribute: 'type', value: 'object' },
            { type: 'not', filter: { type: 'present', attribute: 'name' } },
          ],
        },
        { type: 'substring', attribute: 'key', initial: '/a', any: ['b'], final: 'c' },
      ],
    });
  });

  test('unescapes \\( \\) \\* \\\\ and hex escapes', () => {
    assert.deepEqual(parseFilter('(name=a\\(b\\)c\\*d\\\\e\\2af)'), {
      type: 'equal',
      attribute: 'name',
      value: 'a(b)c*d\\e*f',
    });
  });

  test('rejects malformed filters', () => {
    for (const bad of ['(a=1', '(a=(b))', '(&)', '(a~=1)', '(=1)', '(a=1))', '(a>=x*)']) {
      assert.throws(() => parseFilter(bad), FilterSyntaxError, bad);
    }
  });

  test('prints filters back with escapes', () => {
    assert.equal(filterToString(parseFilter('(&(a=x\\*y)(b=*))')), '(&(a=x\\2ay)(b=*))');
  });
});

describe('matchesFilter', () => {
  const obj = { a: 'abc', n: 5, list: ['x', 'y'], z: null };
  const m = (text: string) => matchesFilter(parseFilter(text), lookup(obj), asString);

  test('equality is strict: a string filter value never equals a number', () => {
    assert.equal(m('(a=abc)'), true);
    assert.equal(m('(n=5)'), false);
  });

  test('array members match when any element does', () => {
    assert.equal(m('(list=y)'), true);
    assert.equal(m('(list=q)'), false);
  });

  test('presence, negation, substring anchoring', () => {
    assert.equal(m('(a=*)'), true);
    assert.equal(m('(missing=*)'), false);
    assert.equal(m('(!(missing=*))'), true);
    assert.equal(m('(a=a*)'), true);
    assert.equal(m('(a=*c)'), true);
    assert.equal(m('(a=*b)'), false);
    assert.equal(m('(a=a*c)'), true);
  });

  test('ranges compare like JavaScript', () => {
    const numeric = (_a: string, v: string): unknown => Number(v);
    assert.equal(matchesFilter(parseFilter('(n>=5)'), lookup(obj), numeric), true);
    assert.equal(matchesFilter(parseFilter('(n<=4)'), lookup(obj), numeric), false);
    assert.equal(m('(a>=abb)'), true);
    assert.equal(m('(a<=abb)'), false);
  });
});
