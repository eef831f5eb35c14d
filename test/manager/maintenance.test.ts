import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { autovacuumOn } from '../../src/db/index.ts';
import { ManagerStore } from '../../src/manager/store/index.ts';
import { storeVacuumer } from '../../src/manager/store/maintenance.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordingLogger } from '../support/log.ts';

describe('store maintenance', () => {
  let tdb: TestDatabase;

  before(async () => {
    tdb = await createTestDatabase();
    await ManagerStore.open(tdb.db);
  });
  after(async () => {
    await tdb.drop();
  });

  test('while a job runs and autovacuum is off, the churned tables are vacuumed', async (t) => {
    if (await autovacuumOn(tdb.db)) {
      t.skip('this server runs autovacuum: the manager leaves vacuuming to it');
      return;
    }
    const { log, records } = recordingLogger('maintenance-test');
    let busy = false;
    const maintenance = storeVacuumer({ db: tdb.db, log, intervalMs: 20, busy: () => busy });
    await maintenance.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(
        records.filter((r) => r.msg === 'tables vacuumed').length,
        0,
        'no job, no vacuum',
      );
      busy = true;
      for (let i = 0; i < 250 && !records.some((r) => r.msg === 'tables vacuumed'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(records.some((r) => r.msg === 'tables vacuumed'));
    } finally {
      await maintenance.stop();
    }
  });
});
