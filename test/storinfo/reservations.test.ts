import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ReservationError, Reservations, type StorinfoNode } from '../../src/storinfo/index.ts';

const heartbeat = (shark: string, timestamp: number): StorinfoNode => ({
  availableMB: 1,
  percentUsed: 0,
  filesystem: '/manta',
  datacenter: 'dc1',
  manta_storage_id: shark,
  timestamp,
});

describe('Reservations', () => {
  test('reserve, release, commit and settle, per shark and in total', () => {
    let clock = 100;
    const r = new Reservations({ now: () => clock, settleMarginMs: 10 });
    r.reserve('a', 's1', 10, 'asg1');
    r.reserve('b', 's1', 5, 'asg1');
    r.reserve('c', 's2', 7);
    assert.equal(r.reservedBytes('s1'), 15);
    assert.deepEqual(r.stats(), { pending: 3, committed: 0, bytes: 22, unknownEnds: 0 });

    assert.equal(r.release('c'), true);
    assert.equal(r.release('c'), false, 'double release is refused and counted');
    assert.equal(r.reservedBytes('s2'), 0);

    clock = 200;
    assert.equal(r.commitGroup('asg1'), 2);
    assert.equal(r.commit('a'), false, 'double commit is refused and counted');
    assert.deepEqual(r.stats(), { pending: 0, committed: 2, bytes: 15, unknownEnds: 2 });
    assert.equal(r.reservedBytes('s1'), 15, 'committed bytes count until storinfo shows them');
    assert.equal(
      r.releaseGroup('asg1'),
      0,
      'committed reservations are not released by a group release',
    );

    assert.equal(
      r.settle([heartbeat('s1', 205)]),
      0,
      'a heartbeat inside the margin is not enough',
    );
    assert.equal(r.settle([heartbeat('s2', 10_000)]), 0, 'other sharks do not settle s1');
    assert.equal(r.settle([heartbeat('s1', 210)]), 2);
    assert.deepEqual(r.stats(), { pending: 0, committed: 0, bytes: 0, unknownEnds: 2 });
    assert.deepEqual([...r.bySharks()], []);
  });

  test('refuses duplicates and bad sizes', () => {
    const r = new Reservations();
    r.reserve('k', 's', 1);
    assert.throws(() => r.reserve('k', 's', 1), ReservationError);
    // Once its copy landed, the key may be reserved again (the object placed once more); the
    // landed bytes keep counting until storinfo shows them.
    r.commit('k');
    r.reserve('k', 's2', 4);
    assert.equal(r.reservedBytes('s2'), 4);
    assert.equal(r.reservedBytes('s'), 1, 'the landed copy still counts');
    assert.deepEqual(r.stats(), { pending: 1, committed: 1, bytes: 5, unknownEnds: 0 });
    assert.throws(() => r.reserve('n', 's', -1), ReservationError);
    assert.throws(() => r.reserve('f', 's', 0.5), ReservationError);
    assert.equal(r.reservedBytes('s'), 1);
  });

  test('outstanding lists pending reservations older than a threshold (leak report)', () => {
    let clock = 0;
    const r = new Reservations({ now: () => clock });
    r.reserve('old', 's', 1);
    clock = 1000;
    r.reserve('new', 's', 1);
    r.reserve('done', 's', 1);
    r.commit('done');
    assert.deepEqual(
      r.outstanding(500).map((x) => x.key),
      ['old'],
    );
    assert.deepEqual(
      r
        .outstanding()
        .map((x) => x.key)
        .sort(),
      ['new', 'old'],
    );
  });

  test('against a model: totals equal the sum of live entries and never go negative', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('reserve' as const),
        key: fc.nat(20),
        shark: fc.nat(3),
        bytes: fc.nat(1e9),
        group: fc.option(fc.nat(3)),
      }),
      fc.record({ kind: fc.constantFrom('release' as const, 'commit' as const), key: fc.nat(20) }),
      fc.record({
        kind: fc.constantFrom('releaseGroup' as const, 'commitGroup' as const),
        group: fc.nat(3),
      }),
      fc.record({ kind: fc.constant('settle' as const), shark: fc.nat(3), at: fc.nat(100) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let clock = 0;
        const r = new Reservations({ now: () => clock, settleMarginMs: 0 });
        const model = new Map<
          string,
          { shark: string; bytes: number; group?: string; committedAt?: number }
        >();
        for (const o of ops) {
          clock++;
          switch (o.kind) {
            case 'reserve': {
              const key = `k${o.key}`;
              const group = o.group === null ? undefined : `g${o.group}`;
              const existing = model.get(key);
              if (existing && existing.committedAt === undefined) {
                assert.throws(() => r.reserve(key, `s${o.shark}`, o.bytes, group));
              } else {
                // A landed copy keeps counting under a key of its own; the key is free again.
                if (existing) model.set(`${key}\u0000landed${clock}`, existing);
                r.reserve(key, `s${o.shark}`, o.bytes, group);
                model.set(key, {
                  shark: `s${o.shark}`,
                  bytes: o.bytes,
                  ...(group ? { group } : {}),
                });
              }
              break;
            }
            case 'release': {
              const had = model.has(`k${o.key}`);
              assert.equal(r.release(`k${o.key}`), had);
              model.delete(`k${o.key}`);
              break;
            }
            case 'commit': {
              const e = model.get(`k${o.key}`);
              const ok = e !== undefined && e.committedAt === undefined;
              assert.equal(r.commit(`k${o.key}`), ok);
              if (e && ok) e.committedAt = clock;
              break;
            }
            case 'releaseGroup':
              for (const [k, e] of model) {
                if (e.group === `g${o.group}` && e.committedAt === undefined) model.delete(k);
              }
              r.releaseGroup(`g${o.group}`);
              break;
            case 'commitGroup':
              for (const e of model.values()) {
                if (e.group === `g${o.group}` && e.committedAt === undefined) e.committedAt = clock;
              }
              r.commitGroup(`g${o.group}`);
              break;
            case 'settle':
              for (const [k, e] of model) {
                if (
                  e.shark === `s${o.shark}` &&
                  e.committedAt !== undefined &&
                  o.at >= e.committedAt
                ) {
                  model.delete(k);
                }
              }
              r.settle([heartbeat(`s${o.shark}`, o.at)]);
              break;
          }
          let total = 0;
          for (let s = 0; s < 4; s++) {
            const expect = [...model.values()]
              .filter((e) => e.shark === `s${s}`)
              .reduce((a, e) => a + e.bytes, 0);
            assert.equal(r.reservedBytes(`s${s}`), expect);
            assert.ok(r.reservedBytes(`s${s}`) >= 0);
            total += expect;
          }
          const stats = r.stats();
          assert.equal(stats.bytes, total);
          assert.equal(
            stats.pending,
            [...model.values()].filter((e) => e.committedAt === undefined).length,
          );
          assert.equal(
            stats.committed,
            [...model.values()].filter((e) => e.committedAt !== undefined).length,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('aggregate reservations', () => {
  test('add grows one pending entry per key; a group release ends them all', () => {
    const r = new Reservations();
    for (let i = 0; i < 1000; i++) {
      const shark = i % 2 === 0 ? 's1' : 's2';
      r.add(`plan:j:${shark}`, shark, 3, 'plan:j');
    }
    r.reserve('other', 's1', 10);
    assert.deepEqual(r.stats(), { pending: 3, committed: 0, bytes: 3010, unknownEnds: 0 });
    assert.equal(r.reservedBytes('s1'), 1510);
    assert.equal(r.reservedBytes('s2'), 1500);
    assert.equal(r.get('plan:j:s1')?.bytes, 1500);
    assert.deepEqual(r.bySharks().get('s1'), { bytes: 1510, count: 2 });
    assert.equal(r.releaseGroup('plan:j'), 2);
    assert.deepEqual(r.stats(), { pending: 1, committed: 0, bytes: 10, unknownEnds: 0 });
    assert.equal(r.reservedBytes('s2'), 0);
    assert.deepEqual([...r.bySharks().keys()], ['s1']);
  });

  test('a key keeps its shark and group, is never grown once committed, and takes whole bytes', () => {
    const r = new Reservations();
    r.add('k', 's1', 5, 'g');
    assert.throws(() => r.add('k', 's2', 5, 'g'), ReservationError);
    assert.throws(() => r.add('k', 's1', 5, 'h'), ReservationError);
    assert.throws(() => r.add('k', 's1', 1.5, 'g'), ReservationError);
    assert.throws(() => r.add('k', 's1', -1, 'g'), ReservationError);
    assert.equal(r.reservedBytes('s1'), 5, 'a refused add changes nothing');
    r.commit('k');
    assert.throws(() => r.add('k', 's1', 5, 'g'), ReservationError);
    assert.equal(r.release('k'), true);
    assert.deepEqual(r.stats(), { pending: 0, committed: 0, bytes: 0, unknownEnds: 0 });
  });
});
