/**
 * Convergence (issue 16) against the sandbox's real processes: a cron-like writer keeps
 * rewriting a tenth of the shark's objects while the job runs, and the job still ends with
 * nothing on the shark that could have moved; each round's report says what it retried and
 * what that became, and every user write is still the live record.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { snapshotObjects, verifySnapshot } from '../../../src/sandbox/verify.ts';
import { objectsOn, useSandbox } from './sandbox.ts';

describe('convergence', { timeout: 240_000 }, () => {
  const sandbox = useSandbox('converge', { sharks: 5 });

  test('a writer rewriting 10% of the objects during the job: the shark still ends empty', async () => {
    const e2e = sandbox();
    const shark = e2e.shark(1);
    const keys = await e2e.putObjects(
      Array.from({ length: 120 }, (_, i) => ({ sharks: [shark, e2e.shark(2 + (i % 4))] })),
    );
    const before = await snapshotObjects(e2e.sandbox);
    const rewritten = keys.filter((_, i) => i % 10 === 3);
    // Slow copies keep most objects in flight while the writer works.
    await e2e.setMakoFaults({ latencyMs: 150 });
    const id = await e2e.evacuate(1);
    const roundsStarted = async () =>
      (await e2e.logLines('manager')).some((l) => l.includes('convergence round starts'));
    let writes = 0;
    const lastWrite = new Map<string, string>();
    // The cron: each chosen object rewritten in turn, over and over, until the main pass ends.
    writer: for (let pass = 0; pass < 20; pass++) {
      for (const key of rewritten) {
        if (await roundsStarted()) break writer;
        const status = await e2e.manager.get(id);
        if (status.state !== 'Running') break writer;
        lastWrite.set(key, await e2e.rewrite(key));
        writes++;
        await sleep(40);
      }
    }
    await e2e.clearMakoFaults();
    const status = await e2e.waitForJob(id);
    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.ok(writes >= rewritten.length, `the writer rewrote while the job ran (${writes})`);
    const now = await snapshotObjects(e2e.sandbox);
    assert.deepEqual(
      objectsOn(now, shark).map((o) => o.key),
      [],
      JSON.stringify(status.convergence),
    );
    // The job ends with the audit: nothing names the shark any more.
    assert.equal(status.audit?.verdict, 'safe', JSON.stringify(status.audit));
    assert.equal(status.audit?.scanned.objects, 0);
    // Every version the job found and its user replaced says so; nothing else was given up.
    const { skip_breakdown, error_breakdown } = status.results;
    assert.equal(status.results.Error, 0, JSON.stringify(error_breakdown));
    assert.deepEqual(
      Object.keys(skip_breakdown ?? {}).filter((k) => k !== 'object_rewritten'),
      [],
    );
    const convergence = status.convergence;
    assert.ok(convergence, 'the status reports convergence');
    assert.equal(convergence.rounds_limit, 3);
    const replaced = status.results.Skipped;
    if (replaced > 0) {
      // Versions rewritten under the job were cured by a round: each retried, each accounted.
      assert.ok(convergence.rounds.length >= 1, JSON.stringify(convergence));
      const first = convergence.rounds[0];
      assert.ok(first && first.rewritten >= 1, JSON.stringify(convergence));
      const rewrittenInRounds = convergence.rounds.reduce((n, r) => n + r.rewritten, 0);
      assert.equal(rewrittenInRounds, replaced, 'each replaced version was taken by a round');
      const last = convergence.rounds.at(-1);
      assert.equal(last?.became.unfinished, 0);
    }
    // Every user write is still the live record: none was put back to an older version.
    for (const [key, objectId] of lastWrite) {
      assert.equal(now.get(key)?.objectId, objectId, `${key}: the writer's last version is live`);
    }
    const verified = await verifySnapshot(e2e.sandbox, now, { evacuated: shark, before });
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.lost, 0);
  });
});
