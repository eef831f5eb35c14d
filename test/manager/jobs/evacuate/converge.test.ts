/**
 * Convergence's rounds over a real store: what a fresh look makes of each curable object, the
 * rounds' reports, the stop when nothing curable is left or at the limit, a round resumed after
 * a restart, and a cancel. The pass stands in for the pipeline by settling what is unprocessed,
 * as a pipeline pass over the store does.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ConvergenceRound } from '../../../../src/api/convergence.ts';
import { createLogger } from '../../../../src/log/index.ts';
import {
  convergenceEvents,
  convergenceOf,
} from '../../../../src/manager/jobs/convergence-report.ts';
import { type ConvergeDeps, converge } from '../../../../src/manager/jobs/evacuate/converge.ts';
import type { LiveRecord, RecordRef } from '../../../../src/manager/jobs/evacuate/types.ts';
import type { ObjectTarget } from '../../../../src/manager/store/index.ts';
import type { MantaObjectValue } from '../../../../src/manta/index.ts';
import { mantaObject } from '../../../support/manta-record.ts';
import { useStore } from '../../../support/store.ts';

const EVAC = '1.stor.test';
const log = createLogger({ name: 'converge-test', level: 'silent' });
const onShark = [
  { manta_storage_id: EVAC, datacenter: 'dc1' },
  { manta_storage_id: '2.stor.test', datacenter: 'dc1' },
];
const offShark = [
  { manta_storage_id: '3.stor.test', datacenter: 'dc1' },
  { manta_storage_id: '2.stor.test', datacenter: 'dc1' },
];

const value = (id: string, sharks = onShark): MantaObjectValue =>
  mantaObject({ objectId: id, key: `/acct/stor/${id}`, contentLength: 10, sharks });

describe('convergence rounds', () => {
  const fixture = useStore();

  /** A job whose objects ended as `ended` says (id → a terminal target). */
  async function jobWith(
    ended: Record<string, ObjectTarget>,
    shardOf: Record<string, number> = {},
  ): Promise<string> {
    const id = randomUUID();
    await fixture.store.createJob({
      id,
      action: 'evacuate',
      params: { from_shark: EVAC, max_objects: null, converge_rounds: 3 },
      fromShark: { manta_storage_id: EVAC, datacenter: 'dc1' },
      metadataThreads: 2,
      dryRun: false,
      limits: {
        objects_per_second: null,
        bytes_per_second: null,
        metadata_updates_per_second: null,
      },
    });
    const objects = Object.keys(ended).map((o) => ({
      id: o,
      key: `/acct/stor/${o}`,
      shard: shardOf[o] ?? 1,
      etag: `old-${o}`,
      object: value(o),
    }));
    await fixture.store.recordDiscovered(id, objects);
    await fixture.store.transition(
      id,
      Object.entries(ended).map(([o, to]) => ({ select: { ids: [o] }, from: 'unprocessed', to })),
    );
    return id;
  }

  /** Deps over the store; `live` is the metadata as it is now; a pass settles as `settle` says. */
  function deps(
    jobId: string,
    live: Map<string, LiveRecord>,
    settle: (id: string, pass: number) => ObjectTarget = () => ({ status: 'complete' }),
    extra: Partial<ConvergeDeps> = {},
  ): ConvergeDeps & { passes: number } {
    const d = {
      passes: 0,
      jobId,
      store: fixture.store,
      evacuated: EVAC,
      rounds: 3,
      delayMs: 0,
      page: 2,
      concurrency: 2,
      pass: () => ({
        readLive: async (ref: { key: string }) => live.get(ref.key),
        run: async () => {
          d.passes++;
          const open = await fixture.store.objectsByStatus(jobId, 'unprocessed', undefined, 100);
          await fixture.store.transition(
            jobId,
            open.map((o) => ({
              select: { ids: [o.id] },
              from: 'unprocessed' as const,
              to: settle(o.id, d.passes),
            })),
          );
        },
      }),
      stopped: () => false,
      cancelled: new AbortController().signal,
      signal: new AbortController().signal,
      log,
      ...extra,
    };
    return d;
  }

  /** The rounds' reports as the job's status gives them, without their times. */
  async function rounds(jobId: string): Promise<Omit<ConvergenceRound, 'finished_at'>[]> {
    const job = await fixture.store.getJob(jobId);
    assert.ok(job);
    const events = await convergenceEvents(fixture.store, jobId);
    const reports = convergenceOf(job, events)?.rounds ?? [];
    return reports.map(({ finished_at: _at, ...rest }) => rest);
  }

  test('each curable object gets a fresh look: reopened, settled, or replaced by its new version', async () => {
    const busy = { status: 'skipped', reason: 'agent_busy' } as const;
    const job = await jobWith({
      a: busy,
      b: { status: 'error', error: 'moray_update_failed' },
      c: { status: 'skipped', reason: 'metadata_etag_mismatch' },
      d: busy,
      e: { status: 'complete' },
      f: { status: 'skipped', reason: 'metadata_object_not_found' },
    });
    const live = new Map<string, LiveRecord>([
      ['/acct/stor/a', { value: value('a'), etag: 'new-a' }],
      ['/acct/stor/b', { value: value('b', offShark), etag: 'new-b' }],
      ['/acct/stor/c', { value: { ...value('c2'), key: '/acct/stor/c' }, etag: 'new-c' }],
    ]);
    const d = deps(job, live);
    await converge(d);
    assert.equal(d.passes, 1, 'one round, then nothing curable is left');
    assert.deepEqual(await rounds(job), [
      {
        round: 1,
        retried: 4,
        rewritten: 1,
        new_versions: 1,
        became: {
          complete: 2,
          skipped: { metadata_object_not_found: 1, object_not_on_shark: 1 },
          error: {},
          unfinished: 0,
        },
      },
    ]);
    assert.equal(
      (await fixture.store.getObject(job, 'a'))?.etag,
      'new-a',
      'moved with the fresh etag',
    );
    assert.equal((await fixture.store.getObject(job, 'c2'))?.status, 'complete');
    assert.equal(
      (await fixture.store.getObject(job, 'f'))?.status,
      'skipped',
      'a gone object stays',
    );
  });

  test('an object that keeps failing is taken by every round up to the limit', async () => {
    const job = await jobWith({ a: { status: 'skipped', reason: 'agent_busy' } });
    const live = new Map([['/acct/stor/a', { value: value('a'), etag: 'e' }]]);
    const d = deps(job, live, () => ({ status: 'skipped', reason: 'agent_busy' }));
    await converge(d);
    assert.equal(d.passes, 3);
    const reports = await rounds(job);
    assert.deepEqual(
      reports.map((r) => [r.round, r.retried, r.became.skipped]),
      [1, 2, 3].map((n) => [n, 1, { agent_busy: 1 }]),
    );
    // Nothing is due any more: a second run does nothing.
    await converge(d);
    assert.equal(d.passes, 3);
  });

  test('a new version that fails is retried by the next round, counted there as retried', async () => {
    const job = await jobWith({ c: { status: 'skipped', reason: 'metadata_etag_mismatch' } });
    const live = new Map<string, LiveRecord>([
      ['/acct/stor/c', { value: { ...value('c2'), key: '/acct/stor/c' }, etag: 'new-c' }],
    ]);
    const d = deps(job, live, (_id, pass) =>
      pass === 1 ? { status: 'skipped', reason: 'agent_busy' } : { status: 'complete' },
    );
    await converge(d);
    assert.equal(d.passes, 2);
    const none = { complete: 0, skipped: {}, error: {}, unfinished: 0 };
    assert.deepEqual(await rounds(job), [
      {
        round: 1,
        retried: 1,
        rewritten: 1,
        new_versions: 1,
        became: { ...none, skipped: { agent_busy: 1 } },
      },
      { round: 2, retried: 1, rewritten: 0, new_versions: 0, became: { ...none, complete: 1 } },
    ]);
  });

  test('a round a restart interrupted goes on with the objects it had not taken', async () => {
    const busy = { status: 'skipped', reason: 'agent_busy' } as const;
    const job = await jobWith({ x: busy, y: busy });
    const live = new Map([
      ['/acct/stor/x', { value: value('x'), etag: 'e' }],
      ['/acct/stor/y', { value: value('y'), etag: 'e' }],
    ]);
    // Round 1 took x, then the manager stopped; the resumed main pass finished x.
    const [x] = await fixture.store.curableObjects(job, 1, undefined, 1);
    assert.ok(x);
    await fixture.store.applyConvergence(job, 1, [
      { kind: 'reopen', from: x, etag: 'e', object: value('x') },
    ]);
    await fixture.store.transition(job, [
      { select: { ids: ['x'] }, from: 'unprocessed', to: { status: 'complete' } },
    ]);
    const d = deps(job, live);
    await converge(d);
    assert.deepEqual(await rounds(job), [
      {
        round: 1,
        retried: 2,
        rewritten: 0,
        new_versions: 0,
        became: { complete: 2, skipped: {}, error: {}, unfinished: 0 },
      },
    ]);
  });

  test('a shard that does not answer is asked once a round, its objects wait for the next', async () => {
    const failed = { status: 'error', error: 'moray_update_failed' } as const;
    const onDown = ['a', 'b', 'c', 'd', 'e'];
    const job = await jobWith(Object.fromEntries([...onDown, 'z'].map((o) => [o, failed])), {
      z: 2,
    });
    const live = new Map([['/acct/stor/z', { value: value('z'), etag: 'e' }]]);
    const reads: string[] = [];
    const d = deps(job, live, undefined, { concurrency: 1 });
    const pass = d.pass;
    d.pass = () => ({
      ...pass(),
      readLive: async (ref: RecordRef) => {
        reads.push(ref.key);
        if (ref.shard === 1) throw new Error('connect ECONNREFUSED');
        return live.get(ref.key);
      },
    });
    await converge(d);
    assert.equal(d.passes, 3, 'the down shard keeps its objects curable up to the limit');
    assert.equal(reads.filter((k) => k === '/acct/stor/z').length, 1, 'z moved in round 1');
    assert.equal(reads.length - 1, 3, 'one read of the down shard per round');
    for (const o of onDown) {
      assert.equal((await fixture.store.getObject(job, o))?.error, 'moray_update_failed');
    }
    assert.equal((await fixture.store.getObject(job, 'z'))?.status, 'complete');
  });

  test('a cancel: no round starts, and one waiting to start ends at once', async () => {
    const job = await jobWith({ a: { status: 'skipped', reason: 'agent_busy' } });
    const live = new Map([['/acct/stor/a', { value: value('a'), etag: 'e' }]]);
    const cancel = new AbortController();
    let stopped = false;
    const d = deps(job, live, undefined, {
      delayMs: 60_000,
      stopped: () => stopped,
      cancelled: cancel.signal,
    });
    const started = Date.now();
    const running = converge(d);
    setTimeout(() => {
      stopped = true;
      cancel.abort();
    }, 50);
    await running;
    assert.ok(Date.now() - started < 10_000, 'the wait ended at the cancel');
    assert.equal(d.passes, 0);
    assert.deepEqual(await rounds(job), []);
    assert.equal(
      (await fixture.store.getObject(job, 'a'))?.skippedReason,
      'agent_busy',
      'left as it was',
    );
  });
});
