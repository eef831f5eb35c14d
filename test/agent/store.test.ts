import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentStore, DuplicateAssignmentError } from '../../src/agent/store/index.ts';
import type { Task } from '../../src/api/common.ts';
import { pendingTask, silentLog, type TempDirs, tempDirs } from './helpers.ts';

describe('AgentStore', () => {
  let dirs: TempDirs;
  let store: AgentStore;

  before(async () => {
    dirs = await tempDirs();
    store = new AgentStore({ stateDir: dirs.stateDir, log: silentLog });
  });
  const create = (uuid: string, tasks: Task[], now?: number) =>
    store.createAssignment(uuid, tasks, tasks.length, now);
  after(async () => {
    await store.close();
    await dirs.cleanup();
  });

  test('a new assignment is Scheduled with zero counts; a duplicate id is refused', () => {
    const row = create('a1', [pendingTask(1), pendingTask(2)]);
    assert.deepEqual(store.describe(row), {
      uuid: 'a1',
      stats: { state: 'Scheduled', failed: 0, complete: 0, total: 2 },
    });
    assert.throws(() => create('a1', []), DuplicateAssignmentError);
  });

  test('outcomes update counters; the failure list is in completion order', async () => {
    const row = create('a2', [pendingTask(1), pendingTask(2), pendingTask(3)]);
    store.markRunning(row.seq);
    assert.equal(store.describe(store.get('a2')!).stats.state, 'Running');
    await Promise.all([
      store.recordOutcome(row.seq, 2, { HTTPStatusCode: 500 }),
      store.recordOutcome(row.seq, 0, 'MD5Mismatch'),
    ]);
    await store.recordOutcome(row.seq, 1, undefined);
    assert.deepEqual(
      store.pendingTasks(row.seq, -1, 10).map((t) => t.idx),
      [],
    );
    assert.equal(store.completeAssignment(row.seq), 0);
    const view = store.describe(store.get('a2')!);
    assert.deepEqual(view.stats, {
      state: {
        Complete: [
          { ...pendingTask(3), status: { Failed: { HTTPStatusCode: 500 } } },
          { ...pendingTask(1), status: { Failed: 'MD5Mismatch' } },
        ],
      },
      failed: 2,
      complete: 3,
      total: 3,
    });
  });

  test('the failure list pages in completion order', () => {
    const row = store.get('a2')!;
    const pages = [...store.failedTaskPages(row.seq, 1)];
    assert.deepEqual(
      pages.map((p) => p.map((t) => t.object_id)),
      [['obj-3'], ['obj-1']],
    );
  });

  test('an outcome cannot be recorded twice (MIN-2)', async () => {
    const row = create('a3', [pendingTask(1)]);
    await store.recordOutcome(row.seq, 0, undefined);
    await assert.rejects(store.recordOutcome(row.seq, 0, undefined), /not pending/);
    assert.equal(store.get('a3')!.complete, 1);
  });

  test('completing with tasks still pending reports them failed, never implied complete', () => {
    const row = create('a4', [pendingTask(1), pendingTask(2)]);
    assert.equal(store.completeAssignment(row.seq), 2);
    const view = store.describe(store.get('a4')!);
    assert.equal(view.stats.failed, 2);
    assert.equal(view.stats.complete, 2);
    assert.deepEqual(
      (view.stats.state as { Complete: Task[] }).Complete.map((t) => t.status),
      [{ Failed: 'AgentFSError' }, { Failed: 'AgentFSError' }],
    );
  });

  test('no failure gives {"Complete":null}', async () => {
    const row = create('a5', [pendingTask(1)]);
    await store.recordOutcome(row.seq, 0, undefined);
    store.completeAssignment(row.seq);
    assert.equal(
      JSON.stringify(store.describe(store.get('a5')!).stats),
      '{"state":{"Complete":null},"failed":0,"complete":1,"total":1}',
    );
  });

  test('pending tasks are paged in index order, skipping done ones', async () => {
    const row = create('a6', [0, 1, 2, 3, 4].map(pendingTask));
    await store.recordOutcome(row.seq, 1, undefined);
    assert.deepEqual(
      store.pendingTasks(row.seq, -1, 2).map((t) => t.idx),
      [0, 2],
    );
    assert.deepEqual(
      store.pendingTasks(row.seq, 2, 10).map((t) => t.idx),
      [3, 4],
    );
  });

  test('resume lists unfinished assignments in arrival order, running ones rescheduled', () => {
    const unfinished = store.resumeUnfinished().map((r) => [r.uuid, r.state]);
    assert.deepEqual(unfinished, [
      ['a1', 'scheduled'],
      ['a3', 'scheduled'],
      ['a6', 'scheduled'],
    ]);
  });

  test('retention deletes completed assignments finished before the cutoff only', () => {
    const row = create('old', [pendingTask(1)], 1000);
    store.completeAssignment(row.seq, 2000);
    assert.equal(store.deleteCompletedBefore(3000), 1);
    assert.equal(store.get('old'), undefined);
    assert.notEqual(store.get('a2'), undefined, 'recently completed stays');
    assert.notEqual(store.get('a1'), undefined, 'unfinished stays');
  });

  test('state survives reopening the database', async () => {
    await store.close();
    store = new AgentStore({ stateDir: dirs.stateDir, log: silentLog });
    assert.equal(store.get('a2')!.failed, 2);
    assert.equal(store.get('a6')!.complete, 1);
  });
});
