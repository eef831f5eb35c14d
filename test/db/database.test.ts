import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Database, DatabaseError } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

describe('Database (the backend named by REBALANCER_TEST_PG_URL, else PGlite)', () => {
  let tdb: TestDatabase;
  let db: Database;

  before(async () => {
    tdb = await createTestDatabase();
    db = tdb.db;
    await db.exec(
      'CREATE TABLE item (id int8 PRIMARY KEY, n int4, price numeric, doc jsonb, at timestamptz); CREATE TABLE other (x text)',
    );
  });
  after(() => tdb.drop());

  test('parses types as node-postgres does on both backends', async () => {
    await db.query('INSERT INTO item VALUES ($1, $2, $3, $4, $5)', [
      '9007199254740993',
      7,
      '1.50',
      { sharks: ['1.stor'] },
      new Date('2026-01-02T03:04:05Z'),
    ]);
    const { rows, rowCount, fields } = await db.query('SELECT * FROM item WHERE id = $1', [
      '9007199254740993',
    ]);
    assert.equal(rowCount, 1);
    assert.deepEqual(
      fields.map((f) => f.name),
      ['id', 'n', 'price', 'doc', 'at'],
    );
    assert.deepEqual(rows[0], {
      id: '9007199254740993',
      n: 7,
      price: '1.50',
      doc: { sharks: ['1.stor'] },
      at: new Date('2026-01-02T03:04:05Z'),
    });
  });

  test('reports affected rows', async () => {
    const result = await db.query('UPDATE item SET n = n + 1');
    assert.equal(result.rowCount, 1);
  });

  test('a failed transaction leaves nothing behind; a committed one persists', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO other VALUES ($1)', ['rolled back']);
        throw new Error('abort');
      }),
      /abort/,
    );
    await db.transaction(
      async (tx) => {
        await tx.query('INSERT INTO other VALUES ($1)', ['kept']);
      },
      { isolation: 'repeatable read' },
    );
    const { rows } = await db.query('SELECT x FROM other ORDER BY x');
    assert.deepEqual(rows, [{ x: 'kept' }]);
  });

  test('streams every row in batches, with parameters', async () => {
    await db.query('INSERT INTO item (id, n) SELECT g, g % 3 FROM generate_series(100, 2599) g');
    let count = 0;
    let last = 0n;
    for await (const row of db.stream<{ id: string }>(
      'SELECT id FROM item WHERE n = $1 AND id >= $2 ORDER BY id',
      [1, 100],
      { batchSize: 128 },
    )) {
      assert.ok(BigInt(row.id) > last);
      last = BigInt(row.id);
      count++;
    }
    assert.equal(count, 834);
  });

  test('a stream abandoned early releases its cursor and the database stays usable', async () => {
    for await (const _row of db.stream('SELECT id FROM item', [], { batchSize: 10 })) break;
    const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM item');
    assert.equal(rows[0]?.count, '2501');
  });

  test('errors carry the SQLSTATE code', async () => {
    const err = await db.query('SELECT * FROM missing_table').catch((e: unknown) => e);
    assert.ok(err instanceof DatabaseError);
    assert.equal(err.code, '42P01');
    const dup = await db.query('INSERT INTO item (id) VALUES (100)').catch((e: unknown) => e);
    assert.ok(dup instanceof DatabaseError);
    assert.equal(dup.code, '23505');
  });

  test('a failing stream query rejects with the code', async () => {
    const consume = async () => {
      for await (const _row of db.stream('SELECT nope FROM item')) {
        assert.fail('no rows expected');
      }
    };
    await assert.rejects(
      consume(),
      (err: unknown) => err instanceof DatabaseError && err.code === '42703',
    );
    const { rows } = await db.query('SELECT 1 AS one');
    assert.deepEqual(rows, [{ one: 1 }]);
  });
});
