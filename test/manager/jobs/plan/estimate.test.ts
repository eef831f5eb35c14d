/** The plan's arithmetic alone: the estimate at the job's limits, and a shark's fill. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateDuration } from '../../../../src/manager/jobs/plan/estimate.ts';
import { fillPercent } from '../../../../src/manager/jobs/plan/report.ts';
import { DEST } from '../evacuate/ports.ts';
import { MIB, node } from './helpers.ts';

const NONE = {
  objects_per_second: null,
  bytes_per_second: null,
  metadata_updates_per_second: null,
};
const move = { objects: 1000, bytes: 50 * MIB };

describe('plan estimate', () => {
  test('the slowest limit bounds it, and names itself', () => {
    assert.deepEqual(estimateDuration({ ...NONE, objects_per_second: 100 }, move, [600, 400]), {
      estimated_seconds: 10,
      estimate_basis: 'objects_per_second',
    });
    assert.deepEqual(
      estimateDuration({ ...NONE, objects_per_second: 100, bytes_per_second: MIB }, move, [1000]),
      { estimated_seconds: 50, estimate_basis: 'bytes_per_second' },
    );
    // Per shard: the busiest shard's 600 updates at 20/s, not all 1000.
    assert.deepEqual(
      estimateDuration(
        { ...NONE, objects_per_second: 100, metadata_updates_per_second: 20 },
        move,
        [600, 400],
      ),
      { estimated_seconds: 30, estimate_basis: 'metadata_updates_per_second' },
    );
  });

  test('rounded up to whole seconds', () => {
    const e = estimateDuration({ ...NONE, objects_per_second: 3 }, { objects: 7, bytes: 0 }, [7]);
    assert.equal(e.estimated_seconds, 3);
  });

  test('no limit: no estimate; nothing to move: none needed', () => {
    assert.deepEqual(estimateDuration(NONE, move, [1000]), {
      estimated_seconds: null,
      estimate_basis: 'no limit set',
    });
    assert.deepEqual(
      estimateDuration({ ...NONE, objects_per_second: 5 }, { objects: 0, bytes: 0 }, []),
      {
        estimated_seconds: 0,
        estimate_basis: 'nothing to move',
      },
    );
  });
});

describe('shark fill', () => {
  test('from storinfo free MiB and percent used, with the plan’s bytes added', () => {
    // 300 MiB free at 25 % used: 400 MiB in all, 100 used.
    const n = node(DEST, 300, 25);
    assert.equal(fillPercent(n, 0), 25);
    assert.equal(fillPercent(n, 100 * MIB), 50);
    assert.equal(fillPercent(n, 1 * MIB), 25.25);
    assert.equal(fillPercent(node(DEST, 0, 100), 0), 100);
    assert.equal(fillPercent(node(DEST, 0, 40), 0), 40);
  });
});
