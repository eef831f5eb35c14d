import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveConflict } from '../../src/manager/jobs/evacuate/conflict.ts';
import type { MantaObjectValue } from '../../src/manta/index.ts';
import { mantaObject } from '../support/manta-record.ts';

const EVAC = { manta_storage_id: '1.stor', datacenter: 'dc1' };
const OTHER = { manta_storage_id: '2.stor', datacenter: 'dc1' };
const DEST = { manta_storage_id: '3.stor', datacenter: 'dc1' };
const THIRD = { manta_storage_id: '4.stor', datacenter: 'dc1' };

const discovered = mantaObject({
  key: '/a/stor/x',
  owner: 'a',
  objectId: 'o1',
  contentMD5: 'bWQ1',
  contentLength: 10,
  headers: {},
  sharks: [EVAC, OTHER],
});
const ours = { ...discovered, sharks: [DEST, OTHER] };
const live = (value: MantaObjectValue) => ({ value, etag: 'live-etag' });

describe('resolveConflict', () => {
  test('our own earlier write is recognised', () => {
    assert.deepEqual(resolveConflict(live(ours), discovered, ours, '1.stor', DEST), {
      kind: 'ours',
    });
  });

  test('same object, another copy moved: our rewrite applies to the live record', () => {
    const moved = { ...discovered, headers: { 'm-user': 'kept' }, sharks: [EVAC, THIRD] };
    assert.deepEqual(resolveConflict(live(moved), discovered, ours, '1.stor', DEST), {
      kind: 'rewrite',
      value: { ...moved, sharks: [DEST, THIRD] },
      etag: 'live-etag',
      previous: moved,
    });
  });

  test('same object no longer on the shark is moved; on our destination is a collision', () => {
    const off = { ...discovered, sharks: [THIRD, OTHER] };
    assert.deepEqual(resolveConflict(live(off), discovered, ours, '1.stor', DEST), {
      kind: 'moved',
    });
    const taken = { ...discovered, sharks: [EVAC, DEST] };
    assert.deepEqual(resolveConflict(live(taken), discovered, ours, '1.stor', DEST), {
      kind: 'collision',
      live: live(taken),
    });
  });

  test('a live record that is no object record is a user write', () => {
    const unusable = { problem: 'field type must be equal to constant', etag: 'live-etag' };
    assert.deepEqual(resolveConflict(unusable, discovered, ours, '1.stor', DEST), {
      kind: 'changed',
    });
  });

  test("a user's write (new objectId, other bytes or owner) is never merged", () => {
    for (const change of [
      { objectId: 'o2' },
      { contentMD5: 'b3RoZXI=' },
      { contentLength: 11 },
      { owner: 'b' },
      // Even one that happens to name our rewrite's copies: its file is not our copy.
      { objectId: 'o2', sharks: [DEST, OTHER] },
    ]) {
      const value = { ...discovered, ...change };
      assert.deepEqual(
        resolveConflict(live(value), discovered, ours, '1.stor', DEST),
        { kind: 'changed' },
        JSON.stringify(change),
      );
    }
  });
});
