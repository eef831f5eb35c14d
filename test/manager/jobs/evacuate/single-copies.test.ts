/**
 * Objects whose only copy is on the evacuated shark (issue 16), whole jobs run by the real
 * executor over the real store and the manager's agent client, with a scripted agent on a real
 * socket answering as the real agent does: a copy it could not download because the source
 * did not answer is reported `SourceOtherError` (agent processor, after its retries).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Task } from '../../../../src/api/common.ts';
import type { SingleCopies } from '../../../../src/api/manager.ts';
import { evacuateExecutor } from '../../../../src/manager/jobs/evacuate/job.ts';
import type { ObjectSource } from '../../../../src/manager/jobs/evacuate/types.ts';
import { ManagerMetrics } from '../../../../src/manager/metrics.ts';
import type { DiscoveredObject } from '../../../../src/manager/store/index.ts';
import { useStore } from '../../../support/store.ts';
import {
  DEST,
  EVAC,
  idsOf,
  MemoryMetadata,
  mantaObject,
  OTHER,
  pickerChooser,
  silent,
  statuses,
  TEST_SETTINGS,
} from './helpers.ts';
import { type ScriptedAgent, scriptedAgents } from './scripted-agent.ts';

function listing(objects: readonly DiscoveredObject[]): ObjectSource {
  return {
    excludes: () => false,
    async *scan() {
      for (const object of objects) yield { kind: 'object', object };
      yield { kind: 'checkpoint', checkpoint: { shard: 1, cursor: null, done: true } };
    },
  };
}

describe('single copies', () => {
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

  /**
   * Runs a job over `objects` while the agent finishes what it is given, failing the tasks
   * `unreachable` names as the real agent does when their source refuses connections.
   */
  async function run(
    objects: DiscoveredObject[],
    singleCopies: SingleCopies | undefined,
    unreachable: (t: Task) => boolean = () => false,
  ) {
    agent.held.clear();
    const job = await fixture.store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: {
        from_shark: EVAC.manta_storage_id,
        max_objects: null,
        ...(singleCopies === undefined ? {} : { single_copies: singleCopies }),
      },
      fromShark: EVAC,
      metadataThreads: 2,
    });
    const stored = await fixture.store.getJob(job.id);
    const metadata = new MemoryMetadata(objects);
    const chooser = pickerChooser([DEST]).chooser;
    const sources: Task[] = [];
    let running = true;
    const answering = (async () => {
      while (running) {
        for (const [id, h] of agent.held) {
          if (h.failed !== undefined) continue;
          sources.push(...h.tasks);
          const failed = h.tasks
            .filter(unreachable)
            .map((t) => ({ ...t, status: { Failed: 'SourceOtherError' as const } }));
          agent.complete(id, failed);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await evacuateExecutor({
        source: listing(objects),
        agents: agents.client,
        metadata,
        metrics: new ManagerMetrics(),
        chooser: () => chooser,
        settings: TEST_SETTINGS,
      })({
        job: stored ?? job,
        store: fixture.store,
        signal: new AbortController().signal,
        log: silent,
        registerControls: () => undefined,
        evacuating: () => new Set([EVAC.manta_storage_id]),
        paused: false,
      });
    } finally {
      running = false;
      await answering;
    }
    const source = (id: string) => sources.find((t) => t.object_id === id)?.source;
    return { job, metadata, source };
  }

  const objects = () => [
    mantaObject(`single-${randomUUID()}`, { sharks: [EVAC] }),
    mantaObject(`two-${randomUUID()}`, { sharks: [EVAC, OTHER] }),
  ];

  test('copy: an object whose only copy is on the shark is copied from it and rewritten', async () => {
    const [single, two] = objects() as [DiscoveredObject, DiscoveredObject];
    const r = await run([single, two], 'copy');
    assert.deepEqual(r.source(single.id), EVAC, 'downloaded from the evacuated shark itself');
    assert.deepEqual(r.source(two.id), OTHER, 'another copy is preferred');
    assert.deepEqual(await statuses(fixture.store, r.job.id, idsOf([single, two])), {
      [single.id]: 'complete',
      [two.id]: 'complete',
    });
    assert.deepEqual(r.metadata.records.get(single.key)?.value.sharks, [DEST]);
  });

  test('copy, the shark no longer answering: skipped evacuated_shark_unreachable, record kept', async () => {
    const [single, two] = objects() as [DiscoveredObject, DiscoveredObject];
    const flaky = mantaObject(`flaky-${randomUUID()}`, { sharks: [EVAC, OTHER] });
    const r = await run([single, two, flaky], 'copy', (t) => {
      return t.source.manta_storage_id === EVAC.manta_storage_id || t.object_id === flaky.id;
    });
    assert.deepEqual(await statuses(fixture.store, r.job.id, idsOf([single, two, flaky])), {
      [single.id]: 'skipped:evacuated_shark_unreachable',
      [two.id]: 'complete',
      // Another source that did not answer keeps the agent's reason.
      [flaky.id]: 'skipped:source_other_error',
    });
    assert.deepEqual(r.metadata.records.get(single.key)?.value.sharks, [EVAC], 'nothing lost');
  });

  test('skip (and jobs recorded before the option): single copies stay, source_is_evac_shark', async () => {
    for (const mode of ['skip', undefined] as const) {
      const [single, two] = objects() as [DiscoveredObject, DiscoveredObject];
      const r = await run([single, two], mode);
      assert.equal(r.source(single.id), undefined, 'never posted');
      assert.deepEqual(await statuses(fixture.store, r.job.id, idsOf([single, two])), {
        [single.id]: 'skipped:source_is_evac_shark',
        [two.id]: 'complete',
      });
    }
  });
});
