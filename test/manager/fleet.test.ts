/**
 * The fleet for `GET /sharks` (src/manager/fleet.ts) over a real store: sharks by datacenter
 * then id, marked with the running or paused evacuation emptying them (not a dry run's, an
 * audit's or a finished job's) and blocked by the blocklist or their datacenter, and per
 * datacenter the free space and what placement could still use under the fill limit. The
 * placement settings are read at each call, as a config reload changes them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import { Fleet } from '../../src/api/fleet.ts';
import type { JobStateDb } from '../../src/api/manager.ts';
import { type FleetPlacement, readFleet } from '../../src/manager/fleet.ts';
import type { StorinfoNode, StorinfoSnapshot } from '../../src/storinfo/index.ts';
import { useStore } from '../support/store.ts';

const checkFleet = Compile(Fleet);

const node = (
  id: string,
  datacenter: string,
  availableMB: number,
  percentUsed: number,
): StorinfoNode => ({
  manta_storage_id: id,
  datacenter,
  availableMB,
  percentUsed,
  filesystem: '/manta',
  timestamp: 1_700_000_000_000,
});

describe('fleet', () => {
  const fixture = useStore();

  function source(nodes: StorinfoNode[] | undefined, placement: FleetPlacement) {
    const snapshot: StorinfoSnapshot | undefined =
      nodes === undefined
        ? undefined
        : { nodes, fetchedAt: Date.parse('2025-03-01T12:00:00Z'), version: 1 };
    return { snapshot: () => snapshot, placement: () => placement };
  }

  async function job(
    shark: string,
    state: JobStateDb,
    {
      action = 'evacuate',
      dryRun = false,
    }: { action?: 'evacuate' | 'audit'; dryRun?: boolean } = {},
  ): Promise<string> {
    const { store } = fixture;
    const j = await store.createJob({
      id: randomUUID(),
      action,
      params: { from_shark: shark, max_objects: null },
      fromShark: { manta_storage_id: shark, datacenter: 'dc1' },
      metadataThreads: 1,
      dryRun,
    });
    if (state !== 'setup') {
      assert.ok(await store.setJobState(j.id, ['setup'], 'running'));
      if (state !== 'running') assert.ok(await store.setJobState(j.id, ['running'], state));
    }
    return j.id;
  }

  test('before the first storinfo snapshot: no time, no sharks, no datacenters', async () => {
    const fleet = await readFleet(
      source(undefined, { maxFillPercentage: 90, blockedSharks: [], blockedDatacenters: [] }),
      fixture.store,
    );
    assert.deepEqual(fleet, {
      fetched_at: null,
      max_fill_percentage: 90,
      sharks: [],
      datacenters: [],
    });
    assert.ok(checkFleet.Check(fleet));
  });

  test('evacuating names the running or paused evacuation of the shark, nothing else', async () => {
    const running = await job('1.stor', 'running');
    const paused = await job('2.stor', 'paused');
    await job('3.stor', 'running', { dryRun: true });
    await job('4.stor', 'running', { action: 'audit' });
    await job('5.stor', 'complete');
    await job('6.stor', 'setup');
    const ids = ['1.stor', '2.stor', '3.stor', '4.stor', '5.stor', '6.stor'];
    const fleet = await readFleet(
      source(
        ids.map((id) => node(id, 'dc1', 1000, 50)),
        { maxFillPercentage: 100, blockedSharks: [], blockedDatacenters: [] },
      ),
      fixture.store,
    );
    assert.deepEqual(
      fleet.sharks.map((s) => [s.manta_storage_id, s.evacuating]),
      [
        ['1.stor', running],
        ['2.stor', paused],
        ['3.stor', null],
        ['4.stor', null],
        ['5.stor', null],
        ['6.stor', null],
      ],
    );
    // The evacuated ones give placement nothing: 4 sharks of 1000 MiB at 50%, up to 100%.
    assert.deepEqual(fleet.datacenters, [
      { datacenter: 'dc1', sharks: 6, available_mb: 6000, capacity_left_mb: 4000 },
    ]);
    await fixture.store.setJobState(running, ['running'], 'complete');
    await fixture.store.setJobState(paused, ['paused'], 'cancelled');
  });

  test('sharks sorted by datacenter then id, blocked by the blocklist or their datacenter, as reloaded', async () => {
    const nodes = [
      node('9.stor', 'east', 900, 10),
      node('2.stor', 'west', 900, 10),
      node('10.stor', 'east', 400, 60),
      node('7.stor', 'west', 2000, 85),
      node('3.stor', 'north', 500, 0),
    ];
    const placement: { current: FleetPlacement } = {
      current: { maxFillPercentage: 80, blockedSharks: ['9.stor'], blockedDatacenters: ['north'] },
    };
    const src = {
      snapshot: source(nodes, placement.current).snapshot,
      placement: () => placement.current,
    };
    const fleet = await readFleet(src, fixture.store);
    assert.ok(checkFleet.Check(fleet), JSON.stringify([...checkFleet.Errors(fleet)]));
    assert.equal(fleet.fetched_at, '2025-03-01T12:00:00.000Z');
    assert.equal(fleet.max_fill_percentage, 80);
    assert.deepEqual(
      fleet.sharks.map((s) => [s.datacenter, s.manta_storage_id, s.blocked]),
      [
        ['east', '10.stor', false],
        ['east', '9.stor', true],
        ['north', '3.stor', true],
        ['west', '2.stor', false],
        ['west', '7.stor', false],
      ],
    );
    assert.deepEqual(fleet.sharks[0], {
      manta_storage_id: '10.stor',
      datacenter: 'east',
      percent_used: 60,
      available_mb: 400,
      timestamp: 1_700_000_000_000,
      evacuating: null,
      blocked: false,
    });
    // 900 MiB free at 10% used: 1000 in all, 800 under an 80% fill limit, 100 used -> 700.
    // 400 free at 60%: 1000 in all, 800 allowed, 600 used -> 200. 85% used is over 80% -> 0.
    assert.deepEqual(fleet.datacenters, [
      { datacenter: 'east', sharks: 2, available_mb: 1300, capacity_left_mb: 200 },
      { datacenter: 'north', sharks: 1, available_mb: 500, capacity_left_mb: 0 },
      { datacenter: 'west', sharks: 2, available_mb: 2900, capacity_left_mb: 700 },
    ]);

    // A reload: the blocks lifted, the fill limit raised; the next read follows.
    placement.current = { maxFillPercentage: 100, blockedSharks: [], blockedDatacenters: [] };
    const reloaded = await readFleet(src, fixture.store);
    assert.ok(reloaded.sharks.every((s) => !s.blocked));
    assert.deepEqual(
      reloaded.datacenters.map((d) => [d.datacenter, d.capacity_left_mb]),
      // east: 900 + 400; north: 500; west: 900 + 2000.
      [
        ['east', 1300],
        ['north', 500],
        ['west', 2900],
      ],
    );
  });
});
