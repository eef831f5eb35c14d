/**
 * Snaplinks (issue 12, defect 8): records that share an objectId with an object the job moves
 * are rewritten too, each with its own etag, and the job lists them with their outcome.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { snapshotObjects, verifyEvacuation } from '../../../src/sandbox/verify.ts';
import { objectsOn, useSandbox } from './sandbox.ts';

describe('snaplinks', { timeout: 240_000 }, () => {
  const sandbox = useSandbox('snaplinks');

  test('every record naming the shark is rewritten, links included', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(1);
    await e2e.putObjects(Array.from({ length: 12 }, () => ({ sharks: [e2e.shark(2), evac] })));
    const originals = objectsOn(await snapshotObjects(e2e.sandbox), evac);
    const links: string[] = [];
    for (const object of originals.slice(0, 6)) {
      links.push(await e2e.snaplink(object));
      links.push(await e2e.snaplink(object));
    }
    const snapshot = await snapshotObjects(e2e.sandbox);
    assert.equal(objectsOn(snapshot, evac).length, 24);
    const id = await e2e.evacuate(1);
    const status = await e2e.waitForJob(id);
    assert.equal(status.state, 'Complete');
    assert.equal(status.results.Complete, 12, JSON.stringify(status.results));
    assert.equal(status.results.Duplicates, 12, JSON.stringify(status.results));
    const now = await snapshotObjects(e2e.sandbox);
    assert.deepEqual(
      objectsOn(now, evac).map((o) => o.key),
      [],
    );
    // A link names the same copies as the object it shares its objectId with.
    for (const key of links) {
      const link = now.get(key);
      const original = [...now.values()].find(
        (o) => o.objectId === link?.objectId && !links.includes(o.key),
      );
      assert.deepEqual(link?.sharks, original?.sharks, key);
    }
    const result = await verifyEvacuation(e2e.sandbox, { evacuated: evac, before: snapshot });
    assert.deepEqual(result.problems, []);
    assert.equal(result.stillOnEvacuated, 0);
    assert.equal(result.lost, 0);
    const listed = await e2e.manager.duplicates(id);
    assert.equal(listed.length, 12);
    assert.ok(
      listed.every((d) => d.status === 'complete'),
      JSON.stringify(listed),
    );
    // Which record of an objectId is found first (and moved as the object) is discovery's
    // order: per linked objectId, two of its three records are its duplicates.
    const perObject = new Map<string, number>();
    for (const d of listed) perObject.set(d.object_id, (perObject.get(d.object_id) ?? 0) + 1);
    const linked = new Set(links.map((key) => snapshot.get(key)?.objectId));
    assert.deepEqual([...perObject.keys()].sort(), [...linked].sort());
    assert.ok(
      [...perObject.values()].every((n) => n === 2),
      JSON.stringify([...perObject]),
    );
  });
});
