/**
 * Whole evacuate jobs under the operator's controls (issue 15), run by the real executor over
 * the real store, the manager's agent client and scripted agents on real sockets: pause and
 * resume, a cancel while paused, the job's metadata limit and the fleet-wide per-shard budget
 * shared by two jobs, blockers, and the limit and rate metrics. Real timers throughout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { JobLimits } from '../../../../src/api/limits.ts';
import {
  type EvacuateEnvironment,
  evacuateExecutor,
} from '../../../../src/manager/jobs/evacuate/job.ts';
import { MetadataBudgets } from '../../../../src/manager/jobs/evacuate/limits.ts';
import type {
  DestinationChooser,
  EvacuateSettings,
  MetadataUpdate,
  ObjectSource,
} from '../../../../src/manager/jobs/evacuate/types.ts';
import type { JobControls } from '../../../../src/manager/jobs/runner.ts';
import { ManagerMetrics } from '../../../../src/manager/metrics.ts';
import {
  type DiscoveredObject,
  type JobRecord,
  UNLIMITED,
} from '../../../../src/manager/store/index.ts';
import { useStore } from '../../../support/store.ts';
import {
  countsOf,
  DEST,
  EVAC,
  MemoryMetadata,
  mantaObject,
  pickerChooser,
  silent,
  TEST_SETTINGS,
  until,
} from './helpers.ts';
import { type ScriptedAgent, scriptedAgents } from './scripted-agent.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Discovery over a fixed list: every object, then shard 1's checkpoint. */
function listing(objects: readonly DiscoveredObject[]): ObjectSource {
  return {
    excludes: () => false,
    async *scan() {
      for (const object of objects) yield { kind: 'object', object };
      yield { kind: 'checkpoint', checkpoint: { shard: 1, cursor: null, done: true } };
    },
  };
}

/** Moray stand-in noting when each put arrived; `failing` makes puts fail as a shard blip. */
class TimedMetadata extends MemoryMetadata {
  failing = false;
  constructor(
    objects: readonly DiscoveredObject[],
    readonly times: number[] = [],
  ) {
    super(objects);
  }
  override async putObject(u: MetadataUpdate): Promise<void> {
    if (this.failing) throw new Error('connect ECONNRESET 10.0.0.1:2020');
    this.times.push(performance.now());
    return super.putObject(u);
  }
}

/**
 * Updates per second beyond the first `burst` (a full bucket passes at once), from `startedAt`
 * (before the limiter existed) to the last update seen. An update is seen no earlier than it
 * was granted, so a stalled event loop can only make this lower: a token bucket's bound, which
 * holds however the machine is loaded.
 */
function rateSince(times: readonly number[], burst: number, startedAt: number): number {
  return (times.length - burst) / ((Math.max(...times) - startedAt) / 1000);
}

describe('evacuate job controls', () => {
  const fixture = useStore();
  let agents: Awaited<ReturnType<typeof scriptedAgents>>;
  let agent: ScriptedAgent;
  before(async () => {
    agents = await scriptedAgents([DEST]);
    agent = agents.agent(DEST);
  });
  after(async () => {
    await agents.close();
  });

  function reset(autoComplete = true): void {
    agent.reset(autoComplete);
  }

  async function newJob(limits: JobLimits = UNLIMITED): Promise<JobRecord> {
    return fixture.store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: null },
      fromShark: EVAC,
      metadataThreads: 4,
      limits,
    });
  }

  const objectsNamed = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => mantaObject(`${prefix}-${i}-${randomUUID()}`));

  interface Run {
    done: Promise<void>;
    controls: () => JobControls;
  }

  /** Runs `job` through the executor, as the runner does: controls registered, abortable. */
  function start(
    env: EvacuateEnvironment,
    job: JobRecord,
    options: { paused?: boolean } = {},
  ): Run {
    let controls: JobControls | undefined;
    const done = evacuateExecutor(env)({
      job,
      store: fixture.store,
      signal: new AbortController().signal,
      log: silent,
      registerControls: (c) => {
        controls = c;
      },
      evacuating: () => new Set([EVAC.manta_storage_id]),
      paused: options.paused ?? false,
    });
    return {
      done,
      controls: () => {
        if (!controls) throw new Error('no controls registered');
        return controls;
      },
    };
  }

  function environment(o: {
    objects: readonly DiscoveredObject[];
    metadata: MemoryMetadata;
    metrics?: ManagerMetrics;
    budgets?: MetadataBudgets;
    chooser?: DestinationChooser;
    settings?: Partial<EvacuateSettings>;
  }): EvacuateEnvironment {
    const chooser = o.chooser ?? pickerChooser([DEST]).chooser;
    return {
      source: listing(o.objects),
      agents: agents.client,
      metadata: o.metadata,
      metrics: o.metrics ?? new ManagerMetrics(),
      chooser: () => chooser,
      settings: { ...TEST_SETTINGS, ...o.settings },
      ...(o.budgets ? { metadataBudgets: o.budgets } : {}),
    };
  }

  test('paused: nothing new is posted, what agents hold lands; resumed, the job ends', async () => {
    reset(false);
    const objects = objectsNamed('p', 12);
    const env = environment({
      objects,
      metadata: new MemoryMetadata(objects),
      settings: { maxAssignmentsPerAgent: 1 },
    });
    const job = await newJob();
    const run = start(env, job);
    await until(() => agent.held.size === 1, 'the first assignment posted');
    run.controls().pause?.();
    agent.completeAll();
    // Its metadata lands while the job is paused.
    await until(
      async () => (await countsOf(fixture.store, job.id))['status:complete'] === 3,
      'the posted assignment completed',
    );
    await sleep(200);
    assert.equal(agent.posts.length, 1, 'nothing new posted while paused');
    assert.equal((await countsOf(fixture.store, job.id))['status:complete'], 3);
    agent.autoComplete = true;
    run.controls().resume?.();
    await run.done;
    assert.equal((await countsOf(fixture.store, job.id))['status:complete'], 12);
    assert.equal(agent.posts.length, 4);
  });

  test('started paused, then cancelled: it ends with nothing posted, objects unprocessed', async () => {
    reset();
    const objects = objectsNamed('c', 9);
    const picker = pickerChooser([DEST], 'cancelled:');
    const env = environment({
      objects,
      metadata: new MemoryMetadata(objects),
      chooser: picker.chooser,
    });
    const job = await newJob();
    const run = start(env, job, { paused: true });
    await until(
      async () => (await fixture.store.assignmentsInStates(job.id, ['init'])).length === 3,
      'every assignment built',
    );
    await sleep(100);
    assert.equal(agent.posts.length, 0, 'a paused job posts nothing');
    run.controls().cancel();
    await run.done;
    assert.equal(agent.posts.length, 0);
    assert.deepEqual(await countsOf(fixture.store, job.id), { 'status:unprocessed': 9 });
    assert.deepEqual(await fixture.store.assignmentsInStates(job.id, ['init', 'assigned']), []);
    for (const o of objects) assert.equal(picker.reservations.has(`cancelled:${o.id}`), false);
  });

  test('two jobs share a metadata shard budget: together they stay under it', async () => {
    reset();
    const times: number[] = [];
    const startedAt = performance.now();
    const budgets = new MetadataBudgets(30);
    const metrics = new ManagerMetrics();
    const runs = ['a', 'b'].map(async (name) => {
      const objects = objectsNamed(name, 45);
      const env = environment({
        objects,
        metadata: new TimedMetadata(objects, times),
        metrics,
        budgets,
      });
      const job = await newJob();
      await start(env, job).done;
      return countsOf(fixture.store, job.id);
    });
    // Scraped while both run: the budget and the rate measured beside it.
    await until(() => times.length >= 40, 'updates under way');
    const text = await metrics.text();
    assert.match(text, /^rebalancer_metadata_shard_budget\{[^}]*tier="v1",shard="1"[^}]*\} 30$/m);
    const measured = Number(
      /^rebalancer_metadata_shard_updates_per_second\{[^}]*shard="1"[^}]*\} (\S+)$/m.exec(
        text,
      )?.[1],
    );
    assert.ok(measured > 5 && measured <= 45, `measured ${measured} updates/s`);
    for (const counts of await Promise.all(runs)) {
      assert.equal(counts['status:complete'], 45);
    }
    const rate = rateSince(times, 30, startedAt);
    assert.ok(rate <= 31, `both jobs together made ${rate} updates/s beyond the burst`);
    const seconds = (Math.max(...times) - startedAt) / 1000;
    assert.ok(seconds >= 1.9, `90 updates at 30/s (burst 30) took ${seconds}s`);
  });

  test("a job's metadata limit holds its updates per shard; limits and rates are metrics", async () => {
    reset();
    const objects = objectsNamed('m', 60);
    const metadata = new TimedMetadata(objects);
    const metrics = new ManagerMetrics();
    const env = environment({ objects, metadata, metrics });
    const limits = {
      objects_per_second: 1000,
      bytes_per_second: null,
      metadata_updates_per_second: 15,
    };
    const job = await newJob(limits);
    const startedAt = performance.now();
    const run = start(env, job);
    await until(() => metadata.times.length >= 20, 'updates under way');
    const text = await metrics.text();
    const series = (name: string, label: string, value: string) =>
      new RegExp(`^${name}\\{[^}]*job="${job.id}",${label}="${value}"[^}]*\\} (\\S+)$`, 'm').exec(
        text,
      )?.[1];
    assert.equal(series('rebalancer_job_limit', 'limit', 'objects_per_second'), '1000');
    assert.equal(series('rebalancer_job_limit', 'limit', 'metadata_updates_per_second'), '15');
    assert.equal(series('rebalancer_job_limit', 'limit', 'bytes_per_second'), undefined);
    const posted = Number(series('rebalancer_job_rate', 'measure', 'objects_per_second'));
    assert.ok(posted > 0, `objects posted per second: ${posted}`);
    assert.ok(Number(series('rebalancer_job_rate', 'measure', 'bytes_per_second')) > 0);
    const updates = Number(series('rebalancer_job_rate', 'measure', 'metadata_updates_per_second'));
    assert.ok(updates > 3 && updates <= 22, `metadata updates per second: ${updates}`);
    await until(() => metadata.times.length >= 30, 'more updates');
    const rate = rateSince(metadata.times, 15, startedAt);
    assert.ok(rate <= 15.5, `the job made ${rate} updates/s beyond the burst`);
    // Lifted while it runs: the other 30 or so (2 s at 15/s) land at once.
    const liftedAt = performance.now();
    run.controls().setLimits?.({ ...limits, metadata_updates_per_second: null });
    await run.done;
    assert.ok(performance.now() - liftedAt < 1000, 'the new limit applied to waiting updates');
    assert.equal(metadata.times.length, 60);
    assert.doesNotMatch(await metrics.text(), new RegExp(job.id), 'a finished job has no series');
  });

  test('blockers: placement without destinations, then a failing shard; cleared when answered', async () => {
    reset();
    const objects = objectsNamed('b', 6);
    const metadata = new TimedMetadata(objects);
    const picker = pickerChooser([DEST]);
    picker.setSnapshot(undefined);
    const env = environment({
      objects,
      metadata,
      chooser: picker.chooser,
      settings: { metadataAttempts: 100_000, metadataBackoffMs: () => 5 },
    });
    const job = await newJob();
    const run = start(env, job);
    const sources = () => (run.controls().blockers?.() ?? []).map((b) => b.source);
    await until(() => sources().includes('placement'), 'placement named');
    assert.equal(
      run.controls().blockers?.()[0]?.problem,
      'waiting for destinations: storinfo lists none usable',
    );
    metadata.failing = true;
    picker.setSnapshot([DEST]);
    await until(() => sources().includes('moray shard 1'), 'the shard named');
    assert.deepEqual(sources(), ['moray shard 1'], 'placement found destinations again');
    assert.match(run.controls().blockers?.()[0]?.problem ?? '', /ECONNRESET/);
    metadata.failing = false;
    await run.done;
    assert.deepEqual(sources(), []);
    assert.equal((await countsOf(fixture.store, job.id))['status:complete'], 6);
  });
});
