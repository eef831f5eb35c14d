/**
 * Jobs whose objects are in every status, with skip reasons, error codes, v2 objects and one
 * without a record, written through the store as a job would write them; and rows in every
 * table that names a job, for the deletion tests.
 */
import { randomUUID } from 'node:crypto';
import type { JobStateDb } from '../../src/api/manager.ts';
import type { Database } from '../../src/db/index.ts';
import type { JobExecutor } from '../../src/manager/jobs/runner.ts';
import type { ManagerStore } from '../../src/manager/store/index.ts';
import { mantaObject } from './jobs/evacuate/helpers.ts';

export const EVACUATED = { manta_storage_id: '1.stor.example.com', datacenter: 'dc1' };
export const DEST = '2.stor.example.com';

/** Jobs run until cancelled, or until the service closes. */
export const blockingExecutor: JobExecutor = (ctx) =>
  new Promise<void>((resolve, reject) => {
    ctx.registerControls({ cancel: () => resolve() });
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });

/** What the listing must report of one seeded object. */
export interface SeededObject {
  id: string;
  key: string;
  status: string;
  reason: string | null;
  tier: 'v1' | 'v2';
}

export async function createJob(
  store: ManagerStore,
  state: JobStateDb = 'complete',
  retryOf?: string,
): Promise<string> {
  const job = await store.createJob({
    id: randomUUID(),
    action: 'evacuate',
    params: { from_shark: EVACUATED.manta_storage_id, max_objects: null },
    fromShark: EVACUATED,
    metadataThreads: 1,
    ...(retryOf === undefined ? {} : { retryOf }),
  });
  if (state !== 'setup') await store.setJobState(job.id, ['setup'], state);
  return job.id;
}

/**
 * 24 objects, ids `<tag>-00`..`<tag>-23`: 0-5 unprocessed (2, 3 are v2), 6-10 skipped
 * metadata_etag_mismatch under /acct/logs/, 11 skipped {http_status_code:503}, 12-14 error
 * moray_update_failed, 15 error bad_manta_object without a record, 16-18 assigned, 19-20
 * post_processing, 21-23 complete.
 */
export async function seedObjects(
  store: ManagerStore,
  jobId: string,
  tag = 'o',
): Promise<SeededObject[]> {
  const id = (i: number) => `${tag}-${String(i).padStart(2, '0')}`;
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => id(a + k));
  const objects = Array.from({ length: 24 }, (_, i) => i)
    .filter((i) => i !== 15)
    .map((i) => {
      const o = mantaObject(id(i), { size: 100 + i });
      const key = i >= 6 && i <= 10 ? `/acct/logs/${o.id}` : o.key;
      const v2 = i === 2 || i === 3;
      return {
        ...o,
        key,
        ...(v2 ? { tier: 'buckets' as const } : {}),
        object: { ...o.object, key, ...(v2 ? { bucket_id: 'b' } : {}) },
      };
    });
  await store.recordDiscovered(jobId, objects, { shard: 1, cursor: 'c1', done: false });
  await store.recordFailed(
    jobId,
    { id: id(15), key: `/acct/stor/${id(15)}`, shard: 1 },
    'bad_manta_object',
    'no contentLength',
  );
  const assigned = await store.createAssignment(jobId, {
    id: randomUUID(),
    destShark: DEST,
    destDatacenter: 'dc2',
    totalBytes: 1,
    objectIds: range(16, 23),
  });
  if (assigned === undefined) throw new Error('no assignment');
  await store.transition(jobId, [
    {
      select: { ids: range(6, 10) },
      from: 'unprocessed',
      to: { status: 'skipped', reason: 'metadata_etag_mismatch' },
    },
    {
      select: { ids: [id(11)] },
      from: 'unprocessed',
      to: { status: 'skipped', reason: '{http_status_code:503}' },
    },
    {
      select: { ids: range(12, 14) },
      from: 'unprocessed',
      to: { status: 'error', error: 'moray_update_failed', detail: 'etag conflict' },
    },
    { select: { ids: range(19, 23) }, from: 'assigned', to: { status: 'post_processing' } },
  ]);
  await store.transition(jobId, [
    { select: { ids: range(21, 23) }, from: 'post_processing', to: { status: 'complete' } },
  ]);
  const statusOf = (i: number): [string, string | null] =>
    i <= 5
      ? ['unprocessed', null]
      : i <= 10
        ? ['skipped', 'metadata_etag_mismatch']
        : i === 11
          ? ['skipped', '{http_status_code:503}']
          : i <= 14
            ? ['error', 'moray_update_failed']
            : i === 15
              ? ['error', 'bad_manta_object']
              : i <= 18
                ? ['assigned', null]
                : i <= 20
                  ? ['post_processing', null]
                  : ['complete', null];
  return Array.from({ length: 24 }, (_, i) => {
    const [status, reason] = statusOf(i);
    const key = i >= 6 && i <= 10 ? `/acct/logs/${id(i)}` : `/acct/stor/${id(i)}`;
    return { id: id(i), key, status, reason, tier: i === 2 || i === 3 ? 'v2' : 'v1' };
  });
}

/** Rows in the tables the objects do not fill: a duplicate, events, samples, a plan, an audit. */
export async function fillOtherTables(
  store: ManagerStore,
  db: Database,
  jobId: string,
  tag = 'o',
): Promise<void> {
  // The same objectId under another key: a duplicate (snaplink).
  const dup = mantaObject(`${tag}-00`);
  await store.recordDiscovered(jobId, [{ ...dup, key: '/acct/stor/snaplink' }]);
  await store.recordJobEvent(jobId, 'created', {});
  await store.recordProgressSample(jobId, { at: new Date(), objectsDone: 1, bytesDone: 1 });
  await db.query(`INSERT INTO job_plans (job_id, plan) VALUES ($1, '{}')`, [jobId]);
  await store.startAudit({ jobId, shark: EVACUATED.manta_storage_id, deep: false });
  await store.recordAudited(
    jobId,
    [{ key: '/acct/stor/x', tier: 'moray', shard: 1, objectId: 'x', outcome: 'only_copy' }],
    { tier: 'moray', shard: 1, cursor: 'c' },
  );
}

/** Every table with a job_id column: every one of a job's rows is in one of these. */
export async function jobTables(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND column_name = 'job_id' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

/** The job's rows per table (its `jobs` row too). */
export async function rowsOf(db: Database, jobId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of await jobTables(db)) {
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${table} WHERE job_id = $1`,
      [jobId],
    );
    out[table] = Number(rows[0]?.n);
  }
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM jobs WHERE id = $1', [
    jobId,
  ]);
  out.jobs = Number(rows[0]?.n);
  return out;
}
