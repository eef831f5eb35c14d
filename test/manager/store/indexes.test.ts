/**
 * The indexes of the table every object's row is rewritten in, four or five times per job:
 * each index costs every one of those writes (status is indexed, so none is HOT) and every
 * vacuum scans each whole. Migration 14 dropped the index by assignment alone; at 1,000,000
 * objects that took PostgreSQL from 507 to 373 µs of CPU per object (bench/manager-ceiling).
 * Every read by assignment names the job, which the (job_id, assignment_id) index serves.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManagerStore } from '../../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

let tdb: TestDatabase;
before(async () => {
  tdb = await createTestDatabase();
  await ManagerStore.open(tdb.db);
});
after(async () => {
  await tdb.drop();
});

test('evacuate_objects carries only the indexes its reads need', async () => {
  const { rows } = await tdb.db.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes
      WHERE tablename = 'evacuate_objects' ORDER BY indexname`,
  );
  const columns = rows.map((r) => `${r.indexname} ${/\((.*?)\)/.exec(r.indexdef)?.[1]}`);
  assert.deepEqual(columns, [
    'evacuate_objects_job_assignment job_id, assignment_id',
    'evacuate_objects_pkey job_id, id',
    'evacuate_objects_round job_id, converge_round',
    'evacuate_objects_status job_id, status, id',
  ]);
});
