import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Database, DatabaseError } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

describe('named (prepared) statements', () => {
  let tdb: TestDatabase;
  let db: Database;
  const select = 'SELECT id, label FROM thing WHERE id = $1';

  before(async () => {
    tdb = await createTestDatabase();
    db = tdb.db;
    await db.exec('CREATE TABLE thing (id int4 PRIMARY KEY, label text NOT NULL)');
    await db.query('INSERT INTO thing SELECT g, $1 || g FROM generate_series(1, 50) g', ['t']);
  });
  after(() => tdb.drop());

  test('give the results of the same unnamed query, many times over the pool', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    const named = await Promise.all(
      ids.map((id) => db.query(select, [id], { name: 'thing_by_id' })),
    );
    for (const [i, result] of named.entries()) {
      assert.deepEqual(result.rows, [{ id: i + 1, label: `t${i + 1}` }]);
      assert.equal(result.rowCount, 1);
    }
    assert.deepEqual((await db.query(select, [7])).rows, (await db.query(select, [7], {})).rows);
  });

  test('work inside a transaction; on PostgreSQL the statement is really prepared', async () => {
    const prepared = await db.transaction(async (tx) => {
      const { rows } = await tx.query(select, [3], { name: 'thing_by_id' });
      assert.deepEqual(rows, [{ id: 3, label: 't3' }]);
      const names = await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      return names.rows.map((r) => r.name);
    });
    if (db.kind === 'postgres') assert.ok(prepared.includes('thing_by_id'));
  });

  test('errors of a named statement carry the SQLSTATE code', async () => {
    const insert = 'INSERT INTO thing (id, label) VALUES ($1, $2)';
    await db.query(insert, [100, 'a'], { name: 'thing_insert' });
    await assert.rejects(
      db.query(insert, [100, 'b'], { name: 'thing_insert' }),
      (err: unknown) => err instanceof DatabaseError && err.code === '23505',
    );
    // The statement stays usable on that connection after the failure.
    await db.query(insert, [101, 'c'], { name: 'thing_insert' });
    assert.equal((await db.query(select, [101])).rows[0]?.label, 'c');
  });
});
