/**
 * "A plan whose numbers match what the real run then moves": one runner, dry runs to the plan
 * executor and real runs to the evacuate executor (as the manager wires them), over the same
 * shark, records and storinfo snapshot. The real run moves exactly the objects and bytes the
 * plan said, and skips exactly what the plan said cannot move, for the same reasons.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AssignmentPayload } from '../../../../src/api/agent.ts';
import { PickerChooser } from '../../../../src/manager/jobs/evacuate/adapters.ts';
import { evacuateExecutor } from '../../../../src/manager/jobs/evacuate/job.ts';
import type { AgentClient, SourceEvent } from '../../../../src/manager/jobs/evacuate/types.ts';
import { planExecutor } from '../../../../src/manager/jobs/plan/executor.ts';
import { JobRunner } from '../../../../src/manager/jobs/runner.ts';
import { ManagerMetrics } from '../../../../src/manager/metrics.ts';
import type { DiscoveredObject } from '../../../../src/manager/store/index.ts';
import { DestinationPicker, Reservations } from '../../../../src/storinfo/index.ts';
import { useStore } from '../../../support/store.ts';
import {
  countsOf,
  DEST,
  DEST2,
  EVAC,
  MemoryMetadata,
  mantaObject,
  OTHER,
  silent,
  TEST_SETTINGS,
} from '../evacuate/helpers.ts';
import { MIB, newPlanJob, node, planFixture, scriptedSource, withCheckpoints } from './helpers.ts';

const FAR = { manta_storage_id: '5.stor.test', datacenter: 'dc2' };
/** Room for three of the 3 MiB objects on each dc1 shark; dc2 holds a copy of them all. */
const NODES = [node(DEST, 10, 0), node(DEST2, 10, 0), node(FAR, 100, 0)];

/** Accepts every assignment and reports it complete with no failed task. */
class CompletingAgents implements AgentClient {
  readonly held = new Map<string, AssignmentPayload>();
  async post(_dest: unknown, payload: AssignmentPayload) {
    this.held.set(payload.id, payload);
    return { kind: 'accepted' as const };
  }
  async get(_dest: unknown, id: string) {
    return this.held.has(id)
      ? { kind: 'state' as const, state: { Complete: null } }
      : { kind: 'missing' as const, status: 404 };
  }
}

describe('a plan and the real run after it', () => {
  const fx = useStore();

  test('the real run moves and skips what the plan said', async () => {
    const objects: DiscoveredObject[] = [
      ...Array.from({ length: 12 }, (_, i) =>
        mantaObject(`m${String(i).padStart(2, '0')}`, {
          size: 3 * MIB,
          shard: 1 + (i % 2),
          ...(i % 3 === 0 ? { extra: { bucket_id: 'b', name: `n${i}` } } : {}),
        }),
      ),
      mantaObject('single', { sharks: [EVAC] }),
      mantaObject('indc', { sharks: [EVAC, DEST, DEST2, OTHER] }),
      mantaObject('huge', { size: 200 * MIB }),
    ];
    const events: SourceEvent[] = withCheckpoints(
      [
        ...objects.map((object): SourceEvent => ({ kind: 'object', object })),
        {
          kind: 'excluded',
          object: { id: 'lx', key: '/acct/stor/logs/lx', shard: 1, etag: 'e', object: undefined },
        },
      ],
      4,
    );
    const fixture = planFixture(scriptedSource(events), NODES);
    const plan = planExecutor(fixture.env);
    const agents = new CompletingAgents();
    const metadata = new MemoryMetadata(objects);
    const evacuate = evacuateExecutor({
      source: scriptedSource(events),
      agents,
      metadata,
      metrics: new ManagerMetrics(),
      chooser: (job) => {
        const reservations = new Reservations();
        const picker = new DestinationPicker({
          evacuated: job.fromShark,
          snapshot: () => ({ nodes: NODES, fetchedAt: 0, version: 1 }),
          reservations,
          minAvailableMb: 0,
          seed: 7,
        });
        return new PickerChooser(picker, reservations, `${job.id}:`);
      },
      settings: TEST_SETTINGS,
    });
    const runner = new JobRunner({
      store: fx.store,
      executor: (ctx) => (ctx.job.dryRun ? plan(ctx) : evacuate(ctx)),
      log: silent,
    });

    const dry = await newPlanJob(fx.store);
    runner.submit(dry);
    await runner.whenDone(dry.id);
    assert.equal((await fx.store.getJob(dry.id))?.state, 'planned');
    assert.equal(agents.held.size, 0, 'the dry run posted nothing');
    const planned = await fx.store.getPlan(dry.id);
    assert.ok(planned);
    assert.equal(planned.move.objects, 6);
    assert.equal(planned.cannot_move.reasons.destination_insufficient_space?.objects, 7);

    const real = await fx.store.createJob({
      id: randomUUID(),
      action: 'evacuate',
      params: { from_shark: EVAC.manta_storage_id, max_objects: null },
      fromShark: EVAC,
      metadataThreads: 2,
    });
    runner.submit(real);
    await runner.whenDone(real.id);
    const ended = await fx.store.getJob(real.id);
    assert.equal(ended?.state, 'complete', ended?.error);

    const counts = await countsOf(fx.store, real.id);
    assert.equal(counts['status:complete'], planned.move.objects);
    const bytes = (await fx.store.counts(real.id)).find(
      (c) => c.bucket === 'bytes_status' && c.name === 'complete',
    );
    assert.equal(bytes?.count, planned.move.bytes);
    assert.equal(counts['buckets_status:complete'], planned.move.v2.objects);
    const skipped: Record<string, number> = {};
    for (const [k, n] of Object.entries(counts)) {
      if (k.startsWith('skip:')) skipped[k.slice(5)] = n;
    }
    const cannot = Object.fromEntries(
      Object.entries(planned.cannot_move.reasons).map(([r, a]) => [r, a.objects]),
    );
    assert.deepEqual(skipped, cannot);
    assert.equal(
      [...agents.held.values()].reduce((s, a) => s + a.tasks.length, 0),
      planned.move.objects,
      'the agents got as many copies as the plan said',
    );
  });
});
