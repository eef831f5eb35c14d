/**
 * End-to-end evacuations through a sandbox: real Moray stand-ins on PostgreSQL (or PGlite),
 * real agents and makos, the manager as a child process. After each job the independent
 * verifier (src/sandbox/verify.ts) reads the shards and the makos' disks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '../../../src/api/manager.ts';
import { seedSandbox } from '../../../src/sandbox/seed/run.ts';
import {
  type ObjectSnapshot,
  snapshotObjects,
  verifyEvacuation,
} from '../../../src/sandbox/verify.ts';
import { E2ESandbox, expectedSkip, objectsOn, TERMINAL_STATES, tally } from './sandbox.ts';

const GiB = 1024 ** 3;
const ended = (status: JobStatus) => TERMINAL_STATES.includes(status.state);

/** The job's results must be exactly: `complete` objects moved, `skips` by reason, no error. */
function assertResults(
  status: JobStatus,
  expected: { complete: number; skips: Record<string, number>; errors?: Record<string, number> },
): void {
  const skipped = Object.values(expected.skips).reduce((a, b) => a + b, 0);
  const errors = Object.values(expected.errors ?? {}).reduce((a, b) => a + b, 0);
  assert.deepEqual(
    {
      state: status.state,
      complete: status.results.Complete,
      skipped: status.results.Skipped,
      error: status.results.Error,
      total: status.results.Total,
      unprocessed: status.results.Unprocessed,
      assigned: status.results.Assigned,
      postProcessing: status.results['Post Processing'],
      skips: status.results.skip_breakdown ?? {},
    },
    {
      state: 'Complete',
      complete: expected.complete,
      skipped,
      error: errors,
      total: expected.complete + skipped + errors,
      unprocessed: 0,
      assigned: 0,
      postProcessing: 0,
      skips: expected.skips,
    },
    `job results: ${JSON.stringify(status)}`,
  );
}

describe('evacuate end to end', { timeout: 295_000 }, () => {
  let e2e: E2ESandbox;
  /** Keys whose record claims more bytes than any shark holds. */
  const huge = new Set<string>();
  const lengthOf = (key: string) => (huge.has(key) ? 17 * GiB : 1);

  before(async () => {
    e2e = await E2ESandbox.start('evacuate', {
      domain: 'e2e.test',
      shards: 2,
      sharks: 6,
      datacenters: 2,
      sharkCapacityBytes: 16 * GiB,
    });
    await seedSandbox(e2e.sandbox, {
      objects: 240,
      minCopies: 1,
      maxCopies: 3,
      minSize: 512,
      maxSize: 16 * 1024,
      seed: 42,
    });
  });

  after(async () => {
    await e2e?.stop();
  });

  /** Expected outcome of evacuating `shark` from `snapshot`: skip reason by key (others move). */
  function expectations(snapshot: ObjectSnapshot, shark: string) {
    const skips = new Map<string, string>();
    const moved: string[] = [];
    for (const object of objectsOn(snapshot, shark)) {
      const reason = expectedSkip(object, shark, e2e, lengthOf);
      if (reason) skips.set(object.key, reason);
      else moved.push(object.key);
    }
    return { skips, moved };
  }

  async function verify(snapshot: ObjectSnapshot, shark: string, skipped: ReadonlySet<string>) {
    const result = await verifyEvacuation(e2e.sandbox, {
      evacuated: shark,
      before: snapshot,
      skipped,
    });
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
    assert.equal(result.stillOnEvacuated, 0);
    assert.equal(result.reducedCopies, 0);
    assert.equal(result.verified, snapshot.size);
    // Exactly the skipped objects still name the shark.
    const still = objectsOn(await snapshotObjects(e2e.sandbox), shark).map((o) => o.key);
    assert.deepEqual(still.sort(), [...skipped].sort());
  }

  test('a full evacuation: 1, 2, 3 copies, datacenter rule, insufficient space', async () => {
    const evac = e2e.shark(1);
    // Copies on every other dc1 shark and in dc2: no destination passes the datacenter rule.
    await e2e.putObjects(
      Array.from({ length: 3 }, () => ({
        sharks: [evac, e2e.shark(3), e2e.shark(5), e2e.shark(2)],
      })),
    );
    // Records claiming 17 GiB: no 16 GiB shark can take them.
    for (const key of await e2e.putObjects([
      { sharks: [evac, e2e.shark(2)], contentLength: 17 * GiB },
      { sharks: [e2e.shark(4), evac], contentLength: 17 * GiB },
    ])) {
      huge.add(key);
    }
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    const byCopies = tally(objectsOn(snapshot, evac).map((o) => String(o.sharks.length)));
    assert.ok(
      (byCopies['1'] ?? 0) > 10 && (byCopies['2'] ?? 0) > 10 && (byCopies['3'] ?? 0) > 10,
      JSON.stringify(byCopies),
    );
    // Single copies are copied from the evacuated shark itself (issue 16).
    assert.deepEqual(tally(skips.values()), {
      object_already_in_datacenter: 3,
      destination_insufficient_space: 2,
    });

    const id = await e2e.evacuate(1);
    const status = await e2e.waitForJob(id);
    assertResults(status, { complete: moved.length, skips: tally(skips.values()) });
    await verify(snapshot, evac, new Set(skips.keys()));
  });

  test('a user overwriting and deleting objects during the job: their writes win', async () => {
    const evac = e2e.shark(2);
    // Fresh objects need a download (no copy of them is on any destination yet), so the
    // slow sources hold them back.
    const fresh = await e2e.putObjects(
      Array.from({ length: 6 }, (_, i) => ({ sharks: [evac, e2e.shark(i % 2 ? 1 : 3)] })),
    );
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    const overwritten = fresh.slice(0, 3);
    const deleted = fresh.slice(3, 6);
    // Slow sources hold every object between discovery and its metadata update.
    await e2e.setMakoFaults({ latencyMs: 1500 });
    const id = await e2e.evacuate(2);
    const found = objectsOn(snapshot, evac).length;
    const discovered = await e2e.waitForJob(id, (s) => s.results.Total >= found || ended(s));
    assert.ok(!ended(discovered), `the job ended before the user wrote: ${discovered.state}`);
    for (const key of overwritten) await e2e.overwrite(snapshot.get(key)!);
    for (const key of deleted) await e2e.deleteObject(key);
    const written = await Promise.all(overwritten.map((key) => e2e.getRecord(key)));
    await e2e.clearMakoFaults();

    const status = await e2e.waitForJob(id);
    // The versions the users replaced say so; convergence then moved the users' new versions.
    assertResults(status, {
      complete: moved.length - 6 + 3,
      skips: {
        ...tally(skips.values()),
        object_rewritten: 3,
        metadata_object_not_found: 3,
      },
    });
    // The user's records are as written but for the moved copy; the deleted ones stay deleted.
    const now = await Promise.all(overwritten.map((key) => e2e.getRecord(key)));
    const withoutSharks = ({ sharks: _sharks, ...rest }: Record<string, unknown>) => rest;
    assert.deepEqual(now.map(withoutSharks), written.map(withoutSharks));
    for (const record of now) {
      const sharks = record.sharks as { manta_storage_id: string }[];
      assert.ok(
        sharks.every((s) => s.manta_storage_id !== evac),
        JSON.stringify(sharks),
      );
    }
    for (const key of deleted) {
      await assert.rejects(e2e.getRecord(key), /not found|ObjectNotFound/i);
      snapshot.delete(key);
    }
    await verify(snapshot, evac, new Set(skips.keys()));
  });

  test('a missing source and a corrupt source are skipped; a retry moves them', async () => {
    const evac = e2e.shark(3);
    // Fresh objects: no earlier evacuation left a copy of them on a possible destination
    // (an agent that finds the right file in place does not download it).
    const fresh = await e2e.putObjects(
      Array.from({ length: 7 }, (_, i) => ({ sharks: [e2e.shark(i % 2 ? 2 : 4), evac] })),
    );
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    const path = (key: string) => `/${snapshot.get(key)!.owner}/${snapshot.get(key)!.objectId}`;
    const missing = fresh.slice(0, 3);
    const corrupt = fresh.slice(3, 7);
    await e2e.setMakoFaults({
      missing: { paths: missing.map(path) },
      corrupt: { paths: corrupt.map(path) },
    });
    const id = await e2e.evacuate(3);
    const status = await e2e.waitForJob(id);
    const generic = tally(skips.values());
    assertResults(status, {
      complete: moved.length - 7,
      skips: { ...generic, source_object_not_found: 3, md5_mismatch: 4 },
    });
    for (const key of [...missing, ...corrupt]) skips.set(key, 'faulty source');
    await verify(snapshot, evac, new Set(skips.keys()));

    await e2e.clearMakoFaults();
    const again = await snapshotObjects(e2e.sandbox);
    const retry = await e2e.manager.retry(id);
    const retried = await e2e.waitForJob(retry);
    assertResults(retried, { complete: 7, skips: generic });
    assert.equal(retried.retry_of, id);
    for (const key of [...missing, ...corrupt]) skips.delete(key);
    await verify(again, evac, new Set(skips.keys()));
  });

  test('kill -9 of the manager mid-job: the restarted manager resumes and completes it', async () => {
    const evac = e2e.shark(4);
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    await e2e.setMakoFaults({ latencyMs: 1500 });
    const id = await e2e.evacuate(4);
    const assigned = await e2e.waitForJob(id, (s) => s.results.Assigned > 0 || ended(s));
    assert.ok(!ended(assigned), assigned.state);
    await e2e.crash('manager');
    await e2e.clearMakoFaults();
    await e2e.restartManager();
    const status = await e2e.waitForJob(id);
    assertResults(status, { complete: moved.length, skips: tally(skips.values()) });
    await verify(snapshot, evac, new Set(skips.keys()));
  });

  test('cancel: the job stops, what it reports done is exactly what moved', async () => {
    const evac = e2e.shark(5);
    const snapshot = await snapshotObjects(e2e.sandbox);
    const on = objectsOn(snapshot, evac);
    await e2e.setMakoFaults({ latencyMs: 2000 });
    const id = await e2e.evacuate(5);
    await e2e.waitForJob(id, (s) => s.results.Assigned > 0 || ended(s));
    const cancelled = await e2e.manager.cancel(id);
    assert.ok(['Running', 'Cancelled'].includes(cancelled.state), cancelled.state);
    await e2e.clearMakoFaults();
    // The agents finish what they were given and its metadata updates land; nothing new starts.
    const status = await e2e.waitForJob(id, ended);
    assert.equal(status.state, 'Cancelled');
    assert.ok(status.results.Complete < on.length, JSON.stringify(status.results));
    const now = await snapshotObjects(e2e.sandbox);
    assert.equal(on.length - objectsOn(now, evac).length, status.results.Complete);
    await verify(snapshot, evac, new Set(objectsOn(now, evac).map((o) => o.key)));
  });

  test('an agent killed and restarted mid-job: nothing is skipped, the job completes', async () => {
    const evac = e2e.shark(6);
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    // Shark 6 is in dc2: most objects also have a dc1 copy, so the other dc2 sharks (2, 4)
    // are most destinations.
    const restarted = e2e.shark(4);
    await e2e.setMakoFaults({ latencyMs: 1000 });
    const id = await e2e.evacuate(6);
    await e2e.waitForJob(id, (s) => s.results.Assigned > 0 || ended(s));
    await e2e.crash(`agent ${restarted}`);
    await sleep(3000);
    await e2e.restartAgent(4);
    await e2e.clearMakoFaults();
    const status = await e2e.waitForJob(id);
    // Its state is durable: the assignments it held are polled again and finish.
    assertResults(status, { complete: moved.length, skips: tally(skips.values()) });
    await verify(snapshot, evac, new Set(skips.keys()));
  });

  test('a moray shard down during metadata updates: its objects error; a retry fixes them', async () => {
    const evac = e2e.shark(2);
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    const shard2 = e2e.sandbox.shards[1]!.name;
    const onShard2 = moved.filter((key) => snapshot.get(key)!.shard === shard2);
    assert.ok(onShard2.length > 0 && onShard2.length < moved.length);
    await e2e.setMakoFaults({ latencyMs: 1500 });
    const id = await e2e.evacuate(2);
    const found = objectsOn(snapshot, evac).length;
    await e2e.waitForJob(id, (s) => s.results.Total >= found || ended(s));
    await e2e.halt(shard2);
    await e2e.clearMakoFaults();
    const status = await e2e.waitForJob(id);
    await e2e.restartShard(2);
    // Objects whose copy was already on the destination were not held back by the slow
    // sources and may have been updated before the shard went down: count from the shards.
    const stranded = objectsOn(await snapshotObjects(e2e.sandbox), evac)
      .map((o) => o.key)
      .filter((key) => !skips.has(key));
    assert.ok(stranded.length > 0);
    assert.deepEqual(
      stranded.filter((key) => !onShard2.includes(key)),
      [],
    );
    assertResults(status, {
      complete: moved.length - stranded.length,
      skips: tally(skips.values()),
      errors: { moray_update_failed: stranded.length },
    });
    assert.deepEqual(status.results.error_breakdown, { moray: { update_failed: stranded.length } });

    await verify(snapshot, evac, new Set([...skips.keys(), ...stranded]));
    const again = await snapshotObjects(e2e.sandbox);
    const retried = await e2e.waitForJob(await e2e.manager.retry(id));
    assertResults(retried, { complete: stranded.length, skips: tally(skips.values()) });
    await verify(again, evac, new Set(skips.keys()));
  });

  test('agents busy (503, queue full): the manager waits and posts again', async () => {
    const evac = e2e.shark(1);
    // Copies in dc1 (shark 1) and dc2 (shark 2): destinations are sharks 3 and 5, each
    // getting more than one assignment (50 tasks) while it admits one at a time.
    await e2e.putObjects(Array.from({ length: 120 }, () => ({ sharks: [evac, e2e.shark(2)] })));
    const busy = [3, 5];
    for (const n of busy) {
      await e2e.halt(`agent ${e2e.shark(n)}`);
      await e2e.restartAgent(n, { max_queued: 1 });
    }
    const snapshot = await snapshotObjects(e2e.sandbox);
    const { skips, moved } = expectations(snapshot, evac);
    const rejections = async () => {
      let count = 0;
      for (const n of busy) {
        const lines = await e2e.logLines(`agent ${e2e.shark(n)}`);
        count += lines.filter((l) => l.includes('Rejecting assignment: queue full')).length;
      }
      return count;
    };
    const before = await rejections();
    await e2e.setMakoFaults({ latencyMs: 1000 });
    const id = await e2e.evacuate(1);
    const deadline = Date.now() + 60_000;
    while ((await rejections()) === before && Date.now() < deadline) await sleep(100);
    await e2e.clearMakoFaults();
    assert.ok((await rejections()) > before, 'no agent answered 503');
    const status = await e2e.waitForJob(id);
    assertResults(status, { complete: moved.length, skips: tally(skips.values()) });
    await verify(snapshot, evac, new Set(skips.keys()));
  });
});
