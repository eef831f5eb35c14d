/**
 * The files a shark must keep, from the records a scan yields: v1 by owner and by creator, v2
 * by the name hash, snaplinks once, unreadable records counted, and a shark still holding more
 * live records than the bound refused as not evacuated.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { OrphansRefusedError } from '../../../src/manager/orphans/errors.ts';
import { keptFiles } from '../../../src/manager/orphans/kept.ts';
import { malformed, SHARK, scan, v1Record, v2Record } from './fixture.ts';

test('v1 paths by owner and creator, v2 paths by name hash; snaplinks once; unreadable counted', async () => {
  const [a, b, c, id, id2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const v2 = v2Record(a, randomUUID(), id2, 'dir/name with spaces.txt');
  const kept = await keptFiles(
    SHARK,
    scan([v1Record(a, id), v1Record(a, id), v1Record(b, id2, c), v2.event, malformed()]),
  );
  assert.deepEqual(
    [...kept.paths].sort(),
    [`/${a}/${id}`, `/${b}/${id2}`, `/${c}/${id2}`, v2.path].sort(),
  );
  assert.equal(kept.records, 4);
  assert.equal(kept.unreadable, 1);
});

test('more live records than the bound: refused, the shark is not evacuated', async () => {
  const events = Array.from({ length: 4 }, () => v1Record(randomUUID(), randomUUID()));
  await assert.rejects(keptFiles(SHARK, scan(events), { records: 0 }, 3), (err: unknown) => {
    assert.ok(err instanceof OrphansRefusedError);
    assert.equal(err.refusal, 'SharkNotEvacuated');
    return true;
  });
  assert.equal((await keptFiles(SHARK, scan(events), { records: 0 }, 4)).records, 4);
});
