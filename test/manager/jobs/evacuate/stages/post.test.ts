/**
 * The post stage alone, against a real agent (its HTTP server, SQLite store and scheduler on
 * port 0; only the download is replaced by a processor the test controls) through the
 * manager's real agent client: what it posts, what it resumes, how it ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../../../../src/agent/agent.ts';
import type { TaskStatus } from '../../../../../src/api/common.ts';
import { BoundedQueue } from '../../../../../src/async/index.ts';
import { HttpAgentClient } from '../../../../../src/manager/jobs/evacuate/agent-client.ts';
import type { BuiltAssignment } from '../../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import { leftovers, post } from '../../../../../src/manager/jobs/evacuate/stages/post.ts';
import type { AgentClient } from '../../../../../src/manager/jobs/evacuate/types.ts';
import {
  type AssignmentRecord,
  type AssignmentState,
  ManagerStore,
} from '../../../../../src/manager/store/index.ts';
import { silentLog, type TempDirs, tempDirs, testConfig } from '../../../../agent/helpers.ts';
import { useStore } from '../../../../support/store.ts';
import {
  DEST,
  harness,
  mantaObject,
  newJob,
  pickerChooser,
  statuses,
  storedAssignment,
  until,
} from '../helpers.ts';

/** The real store, counting the stage's reads of assignments to resume. */
class ReadCountingStore extends ManagerStore {
  assignmentReads = 0;
  override assignmentsInStates(jobId: string, states: readonly AssignmentState[]) {
    this.assignmentReads++;
    return super.assignmentsInStates(jobId, states);
  }
}

describe('post stage against a real agent', () => {
  const fixture = useStore();
  let dirs: TempDirs;
  let agent: RunningAgent;
  let http: HttpAgentClient;
  const failing = new Map<string, Exclude<TaskStatus, 'Pending' | 'Complete'>>();
  let gate: Promise<void> = Promise.resolve();
  /** The real client, counting the posts it sends. */
  const posts: string[] = [];
  let agents: AgentClient;

  before(async () => {
    dirs = await tempDirs();
    agent = await startAgent(testConfig(dirs, { idPolicy: 'token', domainName: 'test' }), {
      log: silentLog,
      processor: async (task) => {
        await gate;
        const failed = failing.get(task.object_id);
        return failed
          ? { status: failed, outcome: 'failed', bytes: 0 }
          : { status: 'Complete', outcome: 'complete', bytes: 10 };
      },
    });
    http = new HttpAgentClient({ urlFor: () => agent.url, timeoutMs: 5000 });
    agents = {
      post: (dest, payload, signal) => {
        posts.push(payload.id);
        return http.post(dest, payload, signal);
      },
      get: (dest, id, signal) => http.get(dest, id, signal),
    };
  });
  after(async () => {
    await http.close();
    await agent.close();
    await dirs.cleanup();
  });

  async function drained(q: BoundedQueue<AssignmentRecord>): Promise<AssignmentRecord[]> {
    const out: AssignmentRecord[] = [];
    while (q.size > 0) {
      const next = await q.shift();
      if (!next.done) out.push(next.value);
    }
    return out;
  }

  test('built assignments are posted; what the agent finished goes on to the metadata stage', async () => {
    const job = await newJob(fixture.store);
    // As in a run, placement builds them after the stage read what an earlier run left.
    const reads = new ReadCountingStore(fixture.db);
    const h = harness({ store: reads, job, agents });
    const input = new BoundedQueue<BuiltAssignment>(4);
    const running = post(h.ctx, await leftovers(h.ctx), input, h.finished);
    assert.equal(reads.assignmentReads, 3, 'the resume reads');
    const a1 = await storedAssignment(
      h,
      ['q1', 'q2', 'q3'].map((id) => mantaObject(id)),
    );
    const a2 = await storedAssignment(h, [mantaObject('q4')]);
    failing.set('q2', { Failed: 'MD5Mismatch' });
    // As placement does: each built assignment is in transit until the stage takes it.
    h.ctx.inFlight.inTransit = 2;
    await input.push(a1);
    await input.push(a2);
    input.close();
    await running;
    assert.deepEqual(
      posts.slice(-2).sort(),
      [a1.record.id, a2.record.id].sort(),
      'each posted once',
    );
    const finished = await drained(h.finished);
    assert.deepEqual(
      finished.map((r) => [r.id, r.state]).sort(),
      [
        [a1.record.id, 'agent_complete'],
        [a2.record.id, 'agent_complete'],
      ].sort(),
    );
    assert.deepEqual([h.ctx.inFlight.inTransit, h.ctx.inFlight.metadataPending], [0, 2]);
    assert.deepEqual(await statuses(fixture.store, job.id, ['q1', 'q2', 'q3', 'q4']), {
      q1: 'post_processing',
      q2: 'skipped:md5_mismatch',
      q3: 'post_processing',
      q4: 'post_processing',
    });
    for (const a of [a1, a2])
      assert.equal((await fixture.store.getAssignment(a.record.id))?.state, 'agent_complete');
    assert.deepEqual(h.failures, []);
  });

  test('an assignment placement builds once the run started is posted and finished once', async () => {
    // Regression: the stage read the stored `init` assignments itself, after placement had
    // begun storing new ones, and posted (and finished) those twice.
    const job = await newJob(fixture.store);
    const h = harness({ store: fixture.store, job, agents });
    const resumed = await leftovers(h.ctx);
    const fresh = await storedAssignment(h, [mantaObject('n1'), mantaObject('n2')]);
    posts.length = 0;
    const input = new BoundedQueue<BuiltAssignment>(4);
    h.ctx.inFlight.inTransit = 1;
    await input.push(fresh);
    input.close();
    await post(h.ctx, resumed, input, h.finished);
    assert.deepEqual(posts, [fresh.record.id], 'posted once');
    const finished = await drained(h.finished);
    assert.deepEqual(
      finished.map((r) => r.id),
      [fresh.record.id],
      'finished once',
    );
    assert.equal(h.ctx.inFlight.metadataPending, 1);
  });

  test('a resumed run: finished ones go on first, built ones are posted, posted ones only polled', async () => {
    const job = await newJob(fixture.store);
    const before = harness({ store: fixture.store, job, agents });
    const done = await storedAssignment(before, [mantaObject('z1')]);
    await fixture.store.setAssignmentState(done.record.id, ['init'], 'assigned');
    await fixture.store.transition(job.id, [
      { select: { ids: ['z1'] }, from: 'assigned', to: { status: 'post_processing' } },
    ]);
    await fixture.store.setAssignmentState(done.record.id, ['assigned'], 'agent_complete');
    const built = await storedAssignment(before, [mantaObject('z2'), mantaObject('z3')]);
    const posted = await storedAssignment(before, [mantaObject('z4')]);
    await http.post(
      DEST,
      { id: posted.record.id, tasks: posted.tasks },
      new AbortController().signal,
    );
    await fixture.store.setAssignmentState(posted.record.id, ['init'], 'assigned');

    // A new process: fresh reservations, nothing in memory.
    posts.length = 0;
    const pick = pickerChooser([DEST]);
    const h = harness({ store: fixture.store, job, agents, chooser: pick.chooser });
    const input = new BoundedQueue<BuiltAssignment>(4);
    input.close();
    await post(h.ctx, await leftovers(h.ctx), input, h.finished);
    const finished = await drained(h.finished);
    assert.equal(finished[0]?.id, done.record.id, 'what was finished went on before anything');
    assert.deepEqual(
      finished.map((r) => r.id).sort(),
      [done.record.id, built.record.id, posted.record.id].sort(),
    );
    assert.deepEqual(posts, [built.record.id], 'only the built one was posted');
    assert.equal(h.ctx.inFlight.metadataPending, 3);
    // Their objects' bytes were reserved again on resuming, and committed once they landed.
    for (const id of ['z2', 'z3', 'z4']) {
      const r = pick.reservations.get(`${pick.jobPrefix}${id}`);
      assert.ok(r?.committedAt !== undefined, `${id} reserved again, then committed`);
      assert.equal(r.shark, DEST.manta_storage_id);
    }
    assert.equal(pick.reservations.get(`${pick.jobPrefix}z1`), undefined, 'z1 was done before');
  });

  test('the stage waits while an agent holds work; the job stopping rejects it', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    try {
      const job = await newJob(fixture.store);
      const h = harness({ store: fixture.store, job, agents });
      const a = await storedAssignment(h, [mantaObject('s1')]);
      const input = new BoundedQueue<BuiltAssignment>(4);
      h.ctx.inFlight.inTransit = 1;
      await input.push(a);
      input.close();
      const running = post(h.ctx, await leftovers(h.ctx), input, h.finished);
      await until(
        async () => (await fixture.store.getAssignment(a.record.id))?.state === 'assigned',
        'posted',
      );
      let ended = false;
      void running.then(
        () => {
          ended = true;
        },
        () => {
          ended = true;
        },
      );
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(ended, false, 'the agent still works on it');
      h.abort(new Error('the manager is stopping'));
      await assert.rejects(running, /the manager is stopping/);
      assert.equal(h.finished.size, 0);
    } finally {
      release();
      gate = Promise.resolve();
    }
  });
});
