/**
 * The issue 15 gauges as Prometheus reads them: each running job's limits (no series for an
 * unlimited one) and measured rates, the fleet's per-shard metadata budgets and rates; a
 * finished job's series gone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManagerMetrics } from '../../src/manager/metrics.ts';

/** The sample lines of `name`, labels but the constant ones, to value. */
async function samples(metrics: ManagerMetrics, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metrics.text()).split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = (m[2] ?? '')
      .split(',')
      .filter((l) => !/^(service|server|datacenter|zonename)=/.test(l))
      .join(',');
    out[labels] = Number(m[3]);
  }
  return out;
}

describe('manager metrics: limits and rates', () => {
  test("a running job's limits and measured rates; unlimited has no series; ended, none", async () => {
    const metrics = new ManagerMetrics();
    let objects = 12.5;
    metrics.trackJobPacing('j1', () => ({
      limits: { objects_per_second: 20, bytes_per_second: null, metadata_updates_per_second: 160 },
      rates: {
        objects_per_second: objects,
        bytes_per_second: 4096,
        metadata_updates_per_second: 80,
      },
    }));
    assert.deepEqual(await samples(metrics, 'rebalancer_job_limit'), {
      'job="j1",limit="objects_per_second"': 20,
      'job="j1",limit="metadata_updates_per_second"': 160,
    });
    objects = 19;
    assert.deepEqual(await samples(metrics, 'rebalancer_job_rate'), {
      'job="j1",measure="objects_per_second"': 19,
      'job="j1",measure="bytes_per_second"': 4096,
      'job="j1",measure="metadata_updates_per_second"': 80,
    });
    metrics.untrackJobPacing('j1');
    assert.deepEqual(await samples(metrics, 'rebalancer_job_limit'), {});
    assert.deepEqual(await samples(metrics, 'rebalancer_job_rate'), {});
  });

  test('per-shard metadata budgets over every job; an unlimited budget has no series', async () => {
    const metrics = new ManagerMetrics();
    metrics.trackMetadataBudgets(() => [
      { tier: 'v1', shard: 1, budget: 160, perSecond: 150.5 },
      { tier: 'v2', shard: 1, budget: null, perSecond: 3 },
    ]);
    assert.deepEqual(await samples(metrics, 'rebalancer_metadata_shard_budget'), {
      'tier="v1",shard="1"': 160,
    });
    assert.deepEqual(await samples(metrics, 'rebalancer_metadata_shard_updates_per_second'), {
      'tier="v1",shard="1"': 150.5,
      'tier="v2",shard="1"': 3,
    });
  });

  test('pause, resume and plan requests are counted', async () => {
    const metrics = new ManagerMetrics();
    metrics.request('pause_job');
    metrics.request('resume_job');
    metrics.request('get_job_plan');
    const counts = await samples(metrics, 'request_count');
    assert.equal(counts['req="pause_job"'], 1);
    assert.equal(counts['req="resume_job"'], 1);
    assert.equal(counts['req="get_job_plan"'], 1);
    assert.equal(counts['req="total"'], 3);
  });
});
