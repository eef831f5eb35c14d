/**
 * A dry run end to end over real parts: a Moray shard (the sandbox's, speaking Fast) scanned by
 * the real discovery source, the real runner recording the job `planned`, the real picker. Its
 * environment holds no agent client and no metadata writer; Moray's records are exactly as they
 * were afterwards.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiscoveryObjectSource } from '../../../../src/manager/jobs/evacuate/discovery-source.ts';
import { planExecutor } from '../../../../src/manager/jobs/plan/executor.ts';
import { JobRunner } from '../../../../src/manager/jobs/runner.ts';
import { MorayClient } from '../../../../src/moray/index.ts';
import { createMantaBuckets, startMorayShard } from '../../../../src/sandbox/moray/index.ts';
import { useStore } from '../../../support/store.ts';
import { DEST, DEST2, EVAC, mantaObject, OTHER, silent } from '../evacuate/helpers.ts';
import { MIB, newPlanJob, node, planFixture } from './helpers.ts';

describe('a dry run over a real Moray shard', () => {
  const fx = useStore();

  test('plans, ends planned, and writes nothing to Moray', async () => {
    await createMantaBuckets(fx.db);
    const shard = await startMorayShard({ db: fx.db, log: silent });
    const client = new MorayClient({ host: shard.host, port: shard.port, log: silent });
    try {
      const objects = [
        ...['p1', 'p2', 'p3', 'p4', 'p5'].map((id, i) => mantaObject(id, { size: (i + 1) * MIB })),
        mantaObject('p6', { sharks: [EVAC], size: MIB }),
        mantaObject('p7', { sharks: [OTHER, DEST] }),
      ];
      for (const o of objects) await client.putObject('manta', o.key, o.object);
      const before = new Map<string, { etag: string; value: unknown }>();
      for (const o of objects) {
        const r = await client.getObject('manta', o.key);
        before.set(o.key, { etag: r._etag, value: r.value });
      }
      const source = new DiscoveryObjectSource(() => [{ shard: 1, mode: 'moray', client }], {
        chunkSize: 2,
      });
      const fixture = planFixture(source, [node(DEST, 50_000, 10), node(DEST2, 50_000, 10)]);
      assert.deepEqual(Object.keys(fixture.env).sort(), [
        'picker',
        'reservations',
        'settings',
        'source',
      ]);
      const runner = new JobRunner({
        store: fx.store,
        executor: planExecutor(fixture.env),
        log: silent,
      });
      const job = await newPlanJob(fx.store, { limits: { bytes_per_second: MIB } });
      runner.submit(job);
      await runner.whenDone(job.id);

      const ended = await fx.store.getJob(job.id);
      assert.equal(ended?.state, 'planned', ended?.error);
      assert.ok(ended?.discoveredAt, 'discovery ended');
      const plan = await fx.store.getPlan(job.id);
      assert.equal(plan?.move.objects, 5);
      assert.equal(plan?.move.bytes, 15 * MIB);
      assert.deepEqual(plan?.cannot_move.reasons, {
        source_is_evac_shark: { objects: 1, bytes: MIB },
      });
      assert.equal(plan?.estimated_seconds, 15);
      assert.equal(fixture.reservations.stats().pending, 0);

      for (const o of objects) {
        const r = await client.getObject('manta', o.key);
        assert.deepEqual(
          { etag: r._etag, value: r.value },
          before.get(o.key),
          `${o.key} untouched`,
        );
      }
    } finally {
      await client.close();
      await shard.close();
    }
  });
});
