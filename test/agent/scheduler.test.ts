import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import type { TaskProcessor } from '../../src/agent/processor.ts';
import { Scheduler } from '../../src/agent/scheduler.ts';
import { AgentStore } from '../../src/agent/store/index.ts';
import { pendingTask, silentLog, type TempDirs, tempDirs } from './helpers.ts';

describe('Scheduler', () => {
  let dirs: TempDirs;
  let store: AgentStore;

  before(async () => {
    dirs = await tempDirs();
    // Outcomes wait 2 s for their group commit: long enough to see what runs meanwhile.
    store = new AgentStore({ stateDir: dirs.stateDir, log: silentLog, commitDelayMs: 2_000 });
  });
  after(async () => {
    await store.close();
    await dirs.cleanup();
  });

  test('a task frees its download slot while its outcome waits for the group commit', async () => {
    const row = store.createAssignment(
      'slots',
      [pendingTask(0), pendingTask(1), pendingTask(2)],
      3,
    );
    const pendingWhenStarted: number[][] = [];
    const processor: TaskProcessor = async () => {
      // The tasks still pending in the store when this one starts: earlier outcomes are not
      // committed yet, yet this task already runs in the assignment's single slot.
      pendingWhenStarted.push(store.pendingTasks(row.seq, -1, 10).map((t) => t.idx));
      return { status: 'Complete', outcome: 'complete', bytes: 0 };
    };
    const scheduler = new Scheduler({
      store,
      processor,
      metrics: new AgentMetrics({ service: 'test', server: 'test', datacenter: 'test' }),
      log: silentLog,
      workers: 1,
      workersPerAssignment: 1,
      maxDownloads: 1,
    });
    scheduler.enqueue(row);
    const deadline = Date.now() + 30_000;
    while (store.get('slots')?.state !== 'complete') {
      assert.ok(Date.now() < deadline, 'the assignment did not complete');
      await new Promise((r) => setTimeout(r, 20));
    }
    await scheduler.stop(1_000);
    // All three ran before the first commit: each saw every task still pending.
    assert.deepEqual(pendingWhenStarted, [
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    assert.deepEqual(store.describe(store.get('slots')!).stats, {
      state: { Complete: null },
      failed: 0,
      complete: 3,
      total: 3,
    });
  });
});
