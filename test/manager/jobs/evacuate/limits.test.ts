/**
 * The job's throttles alone (limits.ts) and its blockers registry: metadata pacing per shard,
 * by the job's limit and the fleet's shared budget, changed while updates wait; the measured
 * rates; no wait at all when nothing is limited. Real timers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Blockers } from '../../../../src/manager/jobs/evacuate/blockers.ts';
import {
  MetadataBudgets,
  MetadataPacer,
  RateMeter,
} from '../../../../src/manager/jobs/evacuate/limits.ts';

const signal = new AbortController().signal;

/** Takes `n` single updates on one shard; resolves with how long they took, ms. */
async function updates(pacer: MetadataPacer, n: number, shard = 1): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await pacer.take('moray', shard, 1, signal);
  return performance.now() - started;
}

describe('metadata pacing', () => {
  test('unlimited: no wait is handed out at all, and the updates are still counted', () => {
    const budgets = new MetadataBudgets(null);
    const pacer = new MetadataPacer(budgets, null);
    for (let i = 0; i < 100; i++) assert.equal(pacer.take('moray', 1, 1, signal), undefined);
    assert.ok(pacer.perSecond() >= 100 * 0.9, `measured ${pacer.perSecond()}`);
    assert.deepEqual(
      budgets.readings().map((r) => [r.tier, r.shard, r.budget]),
      [['moray', 1, null]],
    );
  });

  test("the job's limit holds each shard apart; a new limit applies to waiting updates", async () => {
    const pacer = new MetadataPacer(new MetadataBudgets(null), 20);
    // A full bucket (20) at once, then 20 more at 20/s: about a second, on each shard.
    const [one, two] = await Promise.all([updates(pacer, 40, 1), updates(pacer, 40, 2)]);
    for (const ms of [one, two]) assert.ok(ms >= 850 && ms < 2000, `took ${ms}ms`);
    const measured = pacer.perSecond();
    assert.ok(measured >= 15 && measured <= 45, `busiest shard: ${measured}/s`);
    pacer.setLimit(2);
    await updates(pacer, 2, 1);
    const waiting = updates(pacer, 30, 1); // about 15 s at 2/s
    await new Promise((r) => setTimeout(r, 300));
    pacer.setLimit(null);
    const started = performance.now();
    await waiting;
    assert.ok(performance.now() - started < 1000, 'unlimited: the waiting updates went at once');
  });

  test('the fleet budget is shared: two jobs on one shard together stay under it', async () => {
    const budgets = new MetadataBudgets(30);
    const a = new MetadataPacer(budgets, null);
    const b = new MetadataPacer(budgets, null);
    const started = performance.now();
    // 90 updates at 30/s, a full bucket aside: about 2 s whichever job takes them.
    await Promise.all([updates(a, 45), updates(b, 45)]);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds >= 1.8 && seconds < 3.5, `took ${seconds}s`);
    const [reading] = budgets.readings();
    assert.equal(reading?.budget, 30);
    assert.ok((reading?.perSecond ?? 0) >= 20, `measured ${reading?.perSecond}/s over both jobs`);
    // Another shard has a budget of its own.
    const other = await updates(a, 30, 2);
    assert.ok(other < 300, `shard 2 took ${other}ms`);
  });

  test('a reloaded budget applies to updates already waiting', async () => {
    const budgets = new MetadataBudgets(1);
    const pacer = new MetadataPacer(budgets, null);
    await updates(pacer, 1);
    const waiting = updates(pacer, 20); // about 20 s at 1/s
    await new Promise((r) => setTimeout(r, 300));
    budgets.setRate(1000);
    const started = performance.now();
    await waiting;
    assert.ok(performance.now() - started < 1000);
    assert.equal(budgets.rate, 1000);
    budgets.setRate(null);
    assert.equal(pacer.take('moray', 1, 1, signal), undefined, 'unlimited again: no wait');
  });

  test('a batch takes one update per object', async () => {
    const pacer = new MetadataPacer(new MetadataBudgets(null), 10);
    await pacer.take('buckets', 3, 10, signal);
    const started = performance.now();
    await pacer.take('buckets', 3, 5, signal); // the bucket is empty: half a second
    const ms = performance.now() - started;
    assert.ok(ms >= 400 && ms < 1200, `took ${ms}ms`);
  });
});

describe('RateMeter', () => {
  test('the mean over its window, and over the time since it started early on', () => {
    let now = 100_000;
    const meter = new RateMeter(10, () => now);
    meter.add(5);
    now += 500;
    assert.equal(meter.perSecond(), 5, 'under a second: per the first second');
    for (let i = 0; i < 20; i++) {
      now += 1000;
      meter.add(10);
    }
    const rate = meter.perSecond();
    assert.ok(rate > 9 && rate <= 11, `steady 10/s measured ${rate}`);
    now += 30_000;
    assert.equal(meter.perSecond(), 0, 'nothing in the window');
  });
});

describe('Blockers', () => {
  test('newest first; a trouble keeps its first since; topics clear apart', () => {
    let now = 1000;
    const blockers = new Blockers(() => now);
    blockers.report('agent 3.stor', 'connect ECONNREFUSED', 'requests');
    now = 2000;
    blockers.report('moray shard 1', 'ECONNRESET');
    now = 3000;
    blockers.report('agent 3.stor', 'busy (HTTP 503) to 2 posts in a row', 'posting');
    blockers.report('agent 3.stor', 'connect ETIMEDOUT', 'requests');
    assert.deepEqual(blockers.list(), [
      { source: 'agent 3.stor', problem: 'busy (HTTP 503) to 2 posts in a row', since: 3000 },
      { source: 'moray shard 1', problem: 'ECONNRESET', since: 2000 },
      { source: 'agent 3.stor', problem: 'connect ETIMEDOUT', since: 1000 },
    ]);
    blockers.clear('agent 3.stor', 'requests');
    blockers.clear('moray shard 1');
    assert.deepEqual(
      blockers.list().map((b) => b.problem),
      ['busy (HTTP 503) to 2 posts in a row'],
    );
  });
});
