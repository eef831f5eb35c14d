import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { autovacuumOn, TableVacuumer } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordingLogger } from '../support/log.ts';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('table vacuumer', () => {
  let tdb: TestDatabase;

  before(async () => {
    tdb = await createTestDatabase();
    for (const t of ['churned', 'quiet']) {
      await tdb.db.exec(`CREATE TABLE ${t} (id integer PRIMARY KEY, v text)`);
      await tdb.db.exec(`INSERT INTO ${t} SELECT g, 'a' FROM generate_series(1, 500) g`);
    }
  });
  after(async () => {
    await tdb.drop();
  });

  async function vacuumCount(table: string): Promise<number> {
    const { rows } = await tdb.db.query<{ n: string }>(
      `SELECT pg_stat_get_vacuum_count($1::regclass) AS n`,
      [table],
    );
    return Number(rows[0]?.n);
  }

  test('it knows whether the server vacuums on its own', async () => {
    if (tdb.db.kind === 'pglite') {
      assert.equal(await autovacuumOn(tdb.db), false);
    } else {
      const { rows } = await tdb.db.query<{ on: string }>(
        `SELECT current_setting('autovacuum') AS on`,
      );
      assert.equal(await autovacuumOn(tdb.db), rows[0]?.on === 'on');
    }
  });

  test('with autovacuum off, the tables due are vacuumed at each turn, the others not', async (t) => {
    const { log } = recordingLogger();
    let due: string[] = [];
    const vacuumer = new TableVacuumer({ db: tdb.db, log, intervalMs: 20, due: () => due });
    const started = await vacuumer.start();
    try {
      if (await autovacuumOn(tdb.db)) {
        assert.equal(started, false, 'the server vacuums: no turns of ours');
        t.skip('this server runs autovacuum');
        return;
      }
      assert.equal(started, true);
      await pause(100);
      assert.equal(await vacuumCount('churned'), 0, 'nothing due, nothing vacuumed');
      await tdb.db.exec(`UPDATE churned SET v = 'b'`);
      due = ['churned'];
      for (let i = 0; i < 250 && (await vacuumCount('churned')) === 0; i++) await pause(20);
      assert.ok((await vacuumCount('churned')) > 0);
      assert.equal(await vacuumCount('quiet'), 0);
    } finally {
      await vacuumer.stop();
    }
  });

  test('a failed vacuum is logged, not thrown, and later turns go on', async (t) => {
    if (await autovacuumOn(tdb.db)) {
      t.skip('this server runs autovacuum');
      return;
    }
    const { log, records } = recordingLogger();
    let due = ['no_such_table'];
    const vacuumer = new TableVacuumer({ db: tdb.db, log, intervalMs: 20, due: () => due });
    await vacuumer.start();
    try {
      for (let i = 0; i < 250 && !records.some((r) => r.msg.startsWith('vacuuming failed')); i++)
        await pause(20);
      assert.ok(records.some((r) => r.msg.startsWith('vacuuming failed')));
      const before = await vacuumCount('quiet');
      due = ['quiet'];
      for (let i = 0; i < 250 && (await vacuumCount('quiet')) === before; i++) await pause(20);
      assert.ok((await vacuumCount('quiet')) > before);
    } finally {
      await vacuumer.stop();
    }
  });
});
