import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseReasonDbForm, type StorageNode } from '../../src/api/common.ts';
import {
  DestinationPicker,
  type DestinationPickerOptions,
  fillLimitedCapacityBytes,
  MIB,
  type PlacementDecision,
  type PlacementObject,
  Reservations,
  type StorinfoNode,
  type StorinfoSnapshot,
} from '../../src/storinfo/index.ts';

const DCS = ['dc1', 'dc2', 'dc3', 'dc4'];

function storageNode(i: number, dc: string, availableMB: number, percentUsed = 0): StorinfoNode {
  return {
    availableMB,
    percentUsed,
    filesystem: '/manta',
    datacenter: dc,
    manta_storage_id: `${i}.stor.test`,
    timestamp: 1_000,
  };
}

function snapshotOf(nodes: StorinfoNode[], version = 1): () => StorinfoSnapshot {
  const snap = { nodes, fetchedAt: 0, version };
  return () => snap;
}

type Oracle = { valid: StorinfoNode[]; reason: string | undefined; eligible: number };

/** Brute force over every node, written independently of the picker's loop. */
function oracle(
  nodes: readonly StorinfoNode[],
  object: PlacementObject,
  opts: DestinationPickerOptions,
  reservations: Reservations,
): Oracle {
  const maxFill = opts.maxFillPercentage ?? 100;
  const blockedS = new Set(opts.blockedSharks ?? []);
  const blockedD = new Set(opts.blockedDatacenters ?? []);
  const eligible = nodes.filter(
    (n) =>
      n.manta_storage_id !== opts.evacuated.manta_storage_id &&
      !blockedS.has(n.manta_storage_id) &&
      !blockedD.has(n.datacenter) &&
      n.availableMB >= (opts.minAvailableMb ?? 1000) &&
      fillLimitedCapacityBytes(n, maxFill) > 0,
  );
  const valid: StorinfoNode[] = [];
  let space = false;
  let dc = false;
  for (const n of eligible) {
    if (object.sharks.some((s) => s.manta_storage_id === n.manta_storage_id)) continue;
    if (
      n.datacenter !== opts.evacuated.datacenter &&
      object.sharks.some((s) => s.datacenter === n.datacenter)
    ) {
      dc = true;
      continue;
    }
    const free =
      fillLimitedCapacityBytes(n, maxFill) - reservations.reservedBytes(n.manta_storage_id);
    if (object.sizeBytes > free) {
      space = true;
      continue;
    }
    valid.push(n);
  }
  const reason = space
    ? 'destination_insufficient_space'
    : dc
      ? 'object_already_in_datacenter'
      : eligible.length > 0
        ? 'object_already_on_dest_shark'
        : undefined;
  return { valid, reason, eligible: eligible.length };
}

const scenario = fc
  .record({
    nodes: fc.uniqueArray(
      fc.record({
        i: fc.integer({ min: 1, max: 60 }),
        dc: fc.constantFrom(...DCS),
        availableMB: fc.oneof(
          fc.integer({ min: 0, max: 3000 }),
          fc.integer({ min: 0, max: 2_000_000 }),
        ),
        percentUsed: fc.integer({ min: 0, max: 100 }),
      }),
      { selector: (n) => n.i, minLength: 0, maxLength: 25 },
    ),
    evacIndex: fc.nat(),
    evacDc: fc.constantFrom(...DCS),
    maxFill: fc.integer({ min: 1, max: 100 }),
    minAvail: fc.constantFrom(0, 1000, 1500),
    maxSharks: fc.integer({ min: 1, max: 8 }),
    roundSize: fc.integer({ min: 1, max: 40 }),
    blockedDcs: fc.subarray(DCS, { maxLength: 2 }),
    blockedCount: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer(),
    objects: fc.array(
      fc.record({
        copies: fc.array(fc.record({ pick: fc.nat(), dc: fc.constantFrom(...DCS) }), {
          maxLength: 3,
        }),
        size: fc.oneof(
          fc.integer({ min: 0, max: 10 * MIB }),
          fc.integer({ min: 0, max: 4_000_000 * MIB }),
        ),
        end: fc.constantFrom('keep', 'release', 'commit'),
      }),
      { minLength: 1, maxLength: 60 },
    ),
  })
  .map((s) => {
    const nodes = s.nodes.map((n) => storageNode(n.i, n.dc, n.availableMB, n.percentUsed));
    const evacNode = nodes.length > 0 ? nodes[s.evacIndex % nodes.length] : undefined;
    const evacuated: StorageNode = evacNode
      ? { manta_storage_id: evacNode.manta_storage_id, datacenter: evacNode.datacenter }
      : { manta_storage_id: '999.stor.test', datacenter: s.evacDc };
    return {
      ...s,
      nodes,
      evacuated,
      blockedSharks: nodes.slice(0, s.blockedCount).map((n) => n.manta_storage_id),
    };
  });

function assertPlacementValid(
  decision: PlacementDecision,
  object: PlacementObject,
  o: Oracle,
  opts: DestinationPickerOptions,
): void {
  if (decision.outcome === 'placed') {
    const id = decision.shark.manta_storage_id;
    assert.notEqual(id, opts.evacuated.manta_storage_id, 'never the evacuated shark');
    assert.ok(!object.sharks.some((s) => s.manta_storage_id === id), 'never a shark with a copy');
    assert.ok(
      o.valid.some((n) => n.manta_storage_id === id),
      `oracle agrees ${id} is valid (blocklists, min avail, DC rule, space)`,
    );
  } else if (decision.outcome === 'skip') {
    assert.equal(o.valid.length, 0, 'skipped although a valid destination exists');
    assert.equal(decision.reason, o.reason, 'most relevant reason');
  } else {
    assert.equal(o.eligible, 0, 'no_destinations only when nothing is eligible');
  }
}

describe('DestinationPicker properties', () => {
  test('never violates a rule, never skips a placeable object, reason is the most relevant, fill limit holds, reservations balance', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let clock = 0;
        const reservations = new Reservations({ now: () => clock });
        const opts: DestinationPickerOptions = {
          evacuated: s.evacuated,
          snapshot: snapshotOf(s.nodes),
          reservations,
          maxFillPercentage: s.maxFill,
          minAvailableMb: s.minAvail,
          maxSharks: s.maxSharks,
          roundSize: s.roundSize,
          blockedSharks: s.blockedSharks,
          blockedDatacenters: s.blockedDcs,
          seed: s.seed,
        };
        const picker = new DestinationPicker(opts);
        const live: string[] = [];
        s.objects.forEach((spec, k) => {
          clock++;
          const sharks: StorageNode[] = [s.evacuated];
          for (const c of spec.copies) {
            const n = s.nodes.length > 0 ? s.nodes[c.pick % s.nodes.length] : undefined;
            const copy = n
              ? { manta_storage_id: n.manta_storage_id, datacenter: n.datacenter }
              : undefined;
            if (copy && !sharks.some((x) => x.manta_storage_id === copy.manta_storage_id))
              sharks.push(copy);
          }
          const object = { sharks, sizeBytes: spec.size };
          const o = oracle(s.nodes, object, opts, reservations);
          const decision = picker.place(object, `obj-${k}`);
          assertPlacementValid(decision, object, o, opts);
          if (decision.outcome === 'placed') {
            const id = decision.shark.manta_storage_id;
            assert.ok(
              reservations.reservedBytes(id) <= fillLimitedCapacityBytes(decision.shark, s.maxFill),
              'reservations never exceed the fill-limited capacity',
            );
            if (spec.end === 'release') assert.ok(reservations.release(`obj-${k}`));
            else if (spec.end === 'commit') assert.ok(reservations.commit(`obj-${k}`));
            else live.push(`obj-${k}`);
          }
          const stats = reservations.stats();
          assert.ok(stats.bytes >= 0 && stats.pending >= 0 && stats.committed >= 0);
        });
        for (const key of live) assert.ok(reservations.release(key));
        assert.equal(reservations.outstanding().length, 0, 'no leak after every path ended');
        // Committed ones drop once storinfo shows a heartbeat after the commit.
        reservations.settle(s.nodes.map((n) => ({ ...n, timestamp: clock + 10_000 })));
        assert.deepEqual(reservations.stats(), {
          pending: 0,
          committed: 0,
          bytes: 0,
          unknownEnds: 0,
        });
        for (const n of s.nodes) assert.equal(reservations.reservedBytes(n.manta_storage_id), 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('DestinationPicker examples', () => {
  const evacuated = { manta_storage_id: '1.stor.test', datacenter: 'dc1' };

  test('skip reasons use the L ObjectSkippedReason database strings', () => {
    for (const r of [
      'destination_insufficient_space',
      'object_already_in_datacenter',
      'object_already_on_dest_shark',
    ]) {
      assert.notEqual(parseReasonDbForm(r), undefined, r);
    }
  });

  test('L datacenter rule: same DC as the evacuated shark always allowed, other DCs only when empty of copies', () => {
    const nodes = [storageNode(2, 'dc2', 50_000), storageNode(3, 'dc1', 40_000)];
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf(nodes),
      reservations: new Reservations(),
      maxSharks: 1,
      seed: 1,
    });
    // A copy lives in dc2 (on a shark not listed): dc2 destination refused, dc1 allowed.
    const object = {
      sharks: [evacuated, { manta_storage_id: '9.stor.test', datacenter: 'dc2' }],
      sizeBytes: 1,
    };
    for (let i = 0; i < 10; i++) {
      const d = picker.pick(object);
      assert.equal(d.outcome === 'placed' && d.shark.manta_storage_id, '3.stor.test');
    }
    // Only the dc2 node listed → object_already_in_datacenter.
    const only = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf([nodes[0] as StorinfoNode]),
      reservations: new Reservations(),
    });
    assert.deepEqual(only.pick(object), {
      outcome: 'skip',
      reason: 'object_already_in_datacenter',
      spaceMayFree: false,
    });
  });

  test('space is accounted in bytes: many small objects fill a shark, then insufficient space', () => {
    // 1000 MiB free at 0 % used, max fill 100 %: exactly 1000 MiB of capacity.
    const nodes = [storageNode(2, 'dc1', 1000)];
    const reservations = new Reservations();
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf(nodes),
      reservations,
    });
    const object = { sharks: [evacuated], sizeBytes: 512 * 1024 };
    for (let i = 0; i < 2000; i++) {
      assert.equal(picker.place(object, `o${i}`).outcome, 'placed', `object ${i}`);
    }
    assert.equal(reservations.reservedBytes('2.stor.test'), 1000 * MIB);
    assert.deepEqual(picker.place(object, 'overflow'), {
      outcome: 'skip',
      reason: 'destination_insufficient_space',
      spaceMayFree: true,
    });
    reservations.release('o0');
    assert.equal(picker.place(object, 'fits-again').outcome, 'placed');
  });

  test('max_fill_percentage applies the spec formula (worked example: 900 MB, 10 %, 80 % → 700 MiB)', () => {
    const nodes = [storageNode(2, 'dc1', 900, 10)];
    const reservations = new Reservations();
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf(nodes),
      reservations,
      maxFillPercentage: 80,
      minAvailableMb: 0,
    });
    assert.equal(picker.freeBytes('2.stor.test'), 700 * MIB);
    reservations.reserve('x', '2.stor.test', 300 * MIB);
    assert.equal(picker.freeBytes('2.stor.test'), 400 * MIB);
    assert.equal(picker.pick({ sharks: [evacuated], sizeBytes: 400 * MIB }).outcome, 'placed');
    assert.equal(picker.pick({ sharks: [evacuated], sizeBytes: 400 * MIB + 1 }).outcome, 'skip');
  });

  test('blocklists, min available, the evacuated shark and full nodes are never destinations', () => {
    const nodes = [
      storageNode(1, 'dc1', 90_000), // the evacuated shark, still listed
      storageNode(2, 'dc1', 90_000), // blocked shark
      storageNode(3, 'dc9', 90_000), // blocked datacenter
      storageNode(4, 'dc1', 999), // below 1000 MB
      storageNode(5, 'dc1', 90_000, 95), // over max fill 90 %
    ];
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf(nodes),
      reservations: new Reservations(),
      maxFillPercentage: 90,
      blockedSharks: ['2.stor.test'],
      blockedDatacenters: ['dc9'],
    });
    assert.deepEqual(picker.destinations(), []);
    assert.deepEqual(picker.pick({ sharks: [evacuated], sizeBytes: 0 }), {
      outcome: 'no_destinations',
    });
  });

  test('no snapshot yet → no_destinations; a new snapshot is picked up', () => {
    let snap: StorinfoSnapshot | undefined;
    const picker = new DestinationPicker({
      evacuated,
      snapshot: () => snap,
      reservations: new Reservations(),
    });
    assert.equal(picker.pick({ sharks: [evacuated], sizeBytes: 1 }).outcome, 'no_destinations');
    snap = { nodes: [storageNode(2, 'dc1', 5000)], fetchedAt: 0, version: 1 };
    assert.equal(picker.pick({ sharks: [evacuated], sizeBytes: 1 }).outcome, 'placed');
  });

  test('spreads over the top N emptiest sharks, deterministically under a seed', () => {
    const nodes = Array.from({ length: 20 }, (_, i) =>
      storageNode(i + 2, 'dc1', 100_000 + i * 1000),
    );
    const run = (seed: number) => {
      const picker = new DestinationPicker({
        evacuated,
        snapshot: snapshotOf(nodes),
        reservations: new Reservations(),
        maxSharks: 5,
        roundSize: 100,
        seed,
      });
      const out: string[] = [];
      for (let i = 0; i < 100; i++) {
        const d = picker.pick({ sharks: [evacuated], sizeBytes: 1 });
        assert.equal(d.outcome, 'placed');
        if (d.outcome === 'placed') out.push(d.shark.manta_storage_id);
      }
      return out;
    };
    const a = run(42);
    assert.deepEqual(run(42), a, 'same seed, same choices');
    const counts = new Map<string, number>();
    for (const id of a) counts.set(id, (counts.get(id) ?? 0) + 1);
    // The 5 emptiest are 17..21 (+2 offset): every one used, evenly, nothing else.
    assert.deepEqual([...counts.keys()].sort(), [
      '17.stor.test',
      '18.stor.test',
      '19.stor.test',
      '20.stor.test',
      '21.stor.test',
    ]);
    for (const n of counts.values()) assert.equal(n, 20);
  });

  test('falls back beyond the top N rather than skipping', () => {
    const nodes = [
      storageNode(2, 'dc2', 900_000), // emptiest but excluded by the DC rule for this object
      storageNode(3, 'dc1', 1_000),
    ];
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf(nodes),
      reservations: new Reservations(),
      maxSharks: 1,
    });
    const d = picker.pick({
      sharks: [evacuated, { manta_storage_id: '8.stor.test', datacenter: 'dc2' }],
      sizeBytes: 10,
    });
    assert.equal(d.outcome === 'placed' && d.shark.manta_storage_id, '3.stor.test');
  });

  test('rejects a bad size', () => {
    const picker = new DestinationPicker({
      evacuated,
      snapshot: snapshotOf([]),
      reservations: new Reservations(),
    });
    assert.throws(() => picker.pick({ sharks: [], sizeBytes: -1 }), RangeError);
    assert.throws(() => picker.pick({ sharks: [], sizeBytes: 1.5 }), RangeError);
  });
});
