/**
 * The fast record path (record JSON built around the stored `_value` text): wherever it applies
 * it must give byte for byte the JSON of the parsed-and-overlaid record, and findObjects must
 * keep the JavaScript re-check wherever the SQL alone does not decide the filter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { Database, Row } from '../../../src/db/index.ts';
import { type Bucket, BucketStore } from '../../../src/sandbox/moray/buckets.ts';
import { parseFilter } from '../../../src/sandbox/moray/filter.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { ObjectStore, type RecordSink } from '../../../src/sandbox/moray/objects.ts';
import { recordJson, topLevelMembers } from '../../../src/sandbox/moray/record-json.ts';
import { rowToRecord } from '../../../src/sandbox/moray/records.ts';
import { sqlImpliesFilter } from '../../../src/sandbox/moray/where.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { sampleMantaRecord } from './fixtures.ts';

const THINGS = {
  index: {
    s: { type: 'string' },
    n: { type: 'number' },
    flag: { type: 'boolean' },
    tags: { type: '[string]' },
  },
};

let tdb: TestDatabase;
let db: Database;
let buckets: BucketStore;
let objects: ObjectStore;

before(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  buckets = new BucketStore(db);
  await buckets.setup();
  objects = new ObjectStore(db, buckets);
  await buckets.create('things', THINGS);
  await buckets.create('manta', MANTA_BUCKET);
});

after(() => tdb.drop());

async function rows(bucket: string): Promise<Row[]> {
  return (await db.query(`SELECT * FROM ${bucket} ORDER BY _id`)).rows;
}

/** Every row: the fast JSON is either absent or exactly the slow record's JSON. */
function checkRows(bucket: Bucket, all: Row[]): number {
  let fast = 0;
  for (const row of all) {
    for (const count of [undefined, null, 3]) {
      const json = recordJson(bucket, row, count);
      if (json === undefined) continue;
      fast++;
      assert.equal(json, JSON.stringify(rowToRecord(bucket, row, count)), String(row._key));
    }
  }
  return fast;
}

function collect(): { sink: RecordSink; out: unknown[]; fast: number[] } {
  const out: unknown[] = [];
  const fast: number[] = [];
  return {
    out,
    fast,
    sink: {
      value: async (v) => {
        out.push(v);
      },
      json: async (text) => {
        fast.push(out.length);
        out.push(JSON.parse(text));
      },
    },
  };
}

describe('topLevelMembers', () => {
  const wanted = new Map([
    ['s', 0],
    ['a"b', 1],
  ]);
  const members = (text: string) => {
    const out: (string | undefined)[] = [];
    return topLevelMembers(text, wanted, out) ? out : undefined;
  };

  test('finds top-level members only, whatever nests or hides in strings', () => {
    const text = JSON.stringify({
      x: { s: 'nested' },
      y: ['"s":"no"', { s: 1 }],
      z: 'quote \\" "s":"in string"',
      s: 'top',
      'a"b': [1, { c: '}' }],
    });
    assert.deepEqual(members(text), ['"top"', '[1,{"c":"}"}]']);
    assert.deepEqual(members('{}'), []);
    assert.deepEqual(members('{"n":-1.5e+300,"t":true,"s":null}'), ['null']);
  });

  test('refuses what is not a compact JSON object', () => {
    for (const text of ['[]', '"s"', '{ "s":1}', '{"s":1', '{"s":1}x', '{"s" :1}', '{"s":}']) {
      assert.equal(members(text), undefined, text);
    }
  });
});

describe('sqlImpliesFilter', () => {
  const bucket = {
    name: 'things',
    fields: [],
    byKey: new Map([
      ['s', { type: { name: 'string' } }],
      ['n', { type: { name: 'number' } }],
    ]),
    row: {},
  } as unknown as Bucket;
  const implied = (f: string) => sqlImpliesFilter(bucket, parseFilter(f));

  test('exact for equality on string indexes and ids, ranges on ids, presence', () => {
    assert.ok(implied('(&(_id>=1)(_id<=1000)(s=object))'));
    assert.ok(implied('(|(_key=/a)(_mtime=5)(s=*))'));
  });

  test('not for anything the JS re-check may still reject', () => {
    for (const f of [
      '(other=1)',
      '(&(s=x)(other=1))',
      '(n=5)',
      '(s>=a)',
      '(_etag=ABCDEF12)',
      '(!(s=x))',
      '(s=a*)',
      '(_count=1)',
      '(S=x)',
    ]) {
      assert.equal(implied(f), false, f);
    }
  });
});

describe('recordJson against rowToRecord on a real database', () => {
  test('a Manta record written by putObject takes the fast path', async () => {
    const value = sampleMantaRecord();
    await objects.put(db, 'manta', String(value.key), value, {});
    const bucket = await buckets.load('manta');
    const all = await rows('manta');
    assert.ok(recordJson(bucket, all[0]!, undefined) !== undefined);
    assert.equal(checkRows(bucket, all), 3);
  });

  test('random values, then columns changed behind the value: fast JSON is exact', async () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.constantFrom('object', 'a,b', 'é☃', '"q"\\', ''),
      fc.double({ noNaN: true }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const member = fc.oneof(
      scalar,
      fc.array(scalar, { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('s', 'n', 'x'), scalar),
    );
    const valueArb = fc.record(
      {
        s: member,
        n: fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.constantFrom('7', 'x', null)),
        flag: fc.constantFrom(true, false, 'TRUE', 'false', null),
        tags: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.string()),
        nested: fc.dictionary(fc.constantFrom('s', 'tags', 'a"b'), member),
        'k"\\': scalar,
      },
      { requiredKeys: [] },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(valueArb, { minLength: 1, maxLength: 8 }), async (values) => {
        for (const value of values) {
          // As a value arrives over Fast: plain JSON (fast-check makes null-prototype objects).
          const wire = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
          await objects.put(db, 'things', `k${n++}`, wire, {});
        }
      }),
      { numRuns: 25 },
    );
    const bucket = await buckets.load('things');
    assert.ok(checkRows(bucket, await rows('things')) > 0, 'some rows take the fast path');
    // Columns changed without touching the value or its etag (as the `sql` RPC can).
    await db.query("UPDATE things SET s = 'tampered' WHERE _id % 3 = 0");
    await db.query('UPDATE things SET s = NULL, n = 42 WHERE _id % 3 = 1');
    await db.query(`UPDATE things SET tags = '{"x"}' WHERE _id % 5 = 0`);
    checkRows(bucket, await rows('things'));
  });

  test('findObjects keeps the JS re-check for arrays over a scalar index', async () => {
    await objects.put(db, 'things', 'arr1', { s: ['x', 'y'] }, {});
    await objects.put(db, 'things', 'arr2', { s: ['x,y'] }, {});
    await objects.put(db, 'things', 'plain', { s: 'x,y' }, {});
    const { sink, out, fast } = collect();
    const signal = new AbortController().signal;
    await objects.find('things', '(s=x,y)', { sort: { attribute: '_key' } }, sink, signal);
    const keys = out.map((r) => (r as { key: string }).key);
    // arr1's column is "x,y" (SQL matches) but no element of its array equals "x,y".
    assert.deepEqual(keys, ['arr2', 'plain']);
    assert.deepEqual(fast, [1], 'only the plain row is sent as stored text');
  });

  test('getObject of a row whose column changed behind its value shows the column', async () => {
    await objects.put(db, 'things', 'behind', { s: 'old', n: 1 }, {});
    await db.query("UPDATE things SET s = 'new' WHERE _key = 'behind'");
    const { sink, out, fast } = collect();
    await objects.get('things', 'behind', {}, sink);
    assert.deepEqual((out[0] as { value: unknown }).value, { s: 'new', n: 1 });
    assert.deepEqual(fast, []);
  });
});
