/**
 * AgentLanes alone (the post → check seam): the manager's real agent client against scripted
 * agents on real sockets, and the lanes' outcomes recorded rather than written to a store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LaneOutcomes } from '../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import type { EvacuateSettings } from '../../../../src/manager/jobs/evacuate/types.ts';
import { DEST, DEST2, until } from './helpers.ts';
import { built, lanesOver } from './lanes-fixture.ts';
import { scriptedAgents } from './scripted-agent.ts';

describe('AgentLanes', () => {
  let agents: Awaited<ReturnType<typeof scriptedAgents>>;
  before(async () => {
    agents = await scriptedAgents([DEST, DEST2]);
  });
  after(async () => {
    await agents.close();
  });

  function lanesWith(settings: Partial<EvacuateSettings> = {}, throwOn?: keyof LaneOutcomes) {
    return lanesOver(agents, { settings, ...(throwOn === undefined ? {} : { throwOn }) });
  }

  function reset(): void {
    for (const s of [DEST, DEST2]) {
      const a = agents.agent(s);
      a.held.clear();
      a.posts.length = 0;
      a.postStatus = undefined;
      a.getStatus = undefined;
      a.autoComplete = false;
      a.maxUnfinished = 0;
    }
  }

  test('at most maxAssignmentsPerAgent unfinished per agent; the rest wait in its backlog', async () => {
    reset();
    const agent = agents.agent(DEST);
    const { lanes, of } = lanesWith({ maxAssignmentsPerAgent: 2, maxBacklogPerAgent: 2 });
    const all = Array.from({ length: 5 }, () => built(DEST));
    for (const a of all) lanes.enqueue(a);
    await until(() => agent.held.size === 2, 'two posted');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(agent.posts.length, 2, 'no third post while two are unfinished');
    // 2 posted + 3 waiting reach 2 + 2: placement avoids the agent for now.
    assert.deepEqual(lanes.avoid(), new Set([DEST.manta_storage_id]));
    assert.equal(lanes.busy, true);
    await until(() => {
      agent.completeAll();
      return of('finished').length === 5;
    }, 'all finished');
    assert.equal(agent.maxUnfinished, 2);
    assert.deepEqual([...agent.posts].sort(), all.map((a) => a.record.id).sort());
    assert.equal(of('posted').length, 5);
    await lanes.idle();
    assert.equal(lanes.busy, false);
    assert.deepEqual(lanes.avoid(), new Set());
  });

  test('a stalled agent holds back only its own assignments', async () => {
    reset();
    agents.agent(DEST2).autoComplete = true;
    const release = agents.agent(DEST).stall();
    const { lanes, of } = lanesWith({ maxAssignmentsPerAgent: 1 });
    const stalled = [built(DEST), built(DEST)];
    const healthy = Array.from({ length: 4 }, () => built(DEST2));
    for (const a of [...stalled, ...healthy]) lanes.enqueue(a);
    await until(() => of('finished').length === 4, 'the healthy agent finished its four');
    assert.deepEqual(
      of('finished').map((e) => e.split(':')[1]),
      healthy.map((a) => a.record.id),
    );
    agents.agent(DEST).autoComplete = true;
    release();
    await until(() => of('finished').length === 6, 'the stalled agent caught up');
    await lanes.idle();
  });

  test('503 busy is posted again, then refused as agent_busy after busyRetries', async () => {
    reset();
    const agent = agents.agent(DEST);
    agent.postStatus = 503;
    const { lanes, events } = lanesWith({ busyRetries: 3 });
    const a = built(DEST);
    lanes.enqueue(a);
    await lanes.idle();
    assert.deepEqual(events, [`refused:${a.record.id}:agent_busy`]);
    assert.equal(agent.posts.length, 4, 'the first post and three retries');
    // Busy for a while, then room: posted once, finished.
    reset();
    agent.postStatus = 503;
    const b = built(DEST);
    const second = lanesWith({ busyRetries: 100 });
    second.lanes.enqueue(b);
    await until(() => agent.posts.length >= 3, 'posted again while busy');
    agent.postStatus = undefined;
    agent.autoComplete = true;
    await second.lanes.idle();
    assert.deepEqual(second.events, [`posted:${b.record.id}`, `finished:${b.record.id}:0`]);
  });

  test('a 400 is refused as assignment_rejected; a 409 on a re-post counts as posted', async () => {
    reset();
    const agent = agents.agent(DEST);
    agent.postStatus = 400;
    const rejected = lanesWith();
    const a = built(DEST);
    rejected.lanes.enqueue(a);
    await rejected.lanes.idle();
    assert.deepEqual(rejected.events, [`refused:${a.record.id}:assignment_rejected`]);
    // The agent already holds it (posted before a manager restart): 409, then it is polled.
    agent.postStatus = undefined;
    const b = built(DEST);
    agent.held.set(b.record.id, { tasks: b.tasks, failed: [b.tasks[0]!] });
    const again = lanesWith();
    again.lanes.enqueue(b);
    await again.lanes.idle();
    assert.deepEqual(again.events, [`posted:${b.record.id}`, `finished:${b.record.id}:1`]);
    assert.equal(agent.held.size, 1, 'the agent was not given it twice');
  });

  test('404 on a poll: the agent lost the assignment, abandoned as agent_assignment_no_ent', async () => {
    reset();
    agents.agent(DEST).getStatus = 404;
    const { lanes, events } = lanesWith();
    const a = built(DEST);
    lanes.enqueue(a);
    await lanes.idle();
    assert.deepEqual(events, [
      `posted:${a.record.id}`,
      `abandoned:${a.record.id}:agent_assignment_no_ent`,
    ]);
  });

  test('an outage shorter than the tolerance delays the work and abandons nothing', async () => {
    reset();
    const agent = agents.agent(DEST);
    const { lanes, events } = lanesWith({ agentOutageToleranceMs: 10_000 });
    await agent.stop();
    const a = built(DEST);
    lanes.enqueue(a);
    await until(() => lanes.avoid().has(DEST.manta_storage_id), 'the lane is known down');
    await new Promise((r) => setTimeout(r, 30));
    await agent.restart();
    await until(() => events.length === 1, 'posted after the restart');
    // Down again while it is polled, then back: it is still finished.
    await agent.stop();
    await new Promise((r) => setTimeout(r, 30));
    await agent.restart();
    agent.completeAll();
    await lanes.idle();
    assert.deepEqual(events, [`posted:${a.record.id}`, `finished:${a.record.id}:0`]);
  });

  test('past the tolerance: a post is abandoned as destination_unreachable, a poll as network_error', async () => {
    reset();
    const agent = agents.agent(DEST);
    const { lanes, events } = lanesWith({ agentOutageToleranceMs: 80 });
    await agent.stop();
    const a = built(DEST);
    const startedAt = Date.now();
    lanes.enqueue(a);
    await lanes.idle();
    assert.ok(Date.now() - startedAt >= 80, 'asked again for the whole tolerance first');
    assert.deepEqual(events, [`abandoned:${a.record.id}:destination_unreachable`]);
    await agent.restart();
    const b = built(DEST);
    lanes.enqueue(b);
    await until(() => events.length === 2, 'posted');
    await agent.stop();
    await lanes.idle();
    assert.deepEqual(events.slice(1), [
      `posted:${b.record.id}`,
      `abandoned:${b.record.id}:network_error`,
    ]);
    await agent.restart();
  });

  test('an assignment running past twice max_assignment_age is refused as timed out', async () => {
    reset();
    const { lanes, events } = lanesWith({ maxAssignmentAgeSec: 0.05 });
    const a = built(DEST);
    lanes.enqueue(a);
    await lanes.idle();
    assert.deepEqual(events, [
      `posted:${a.record.id}`,
      `refused:${a.record.id}:agent_assignment_timeout`,
    ]);
  });

  test('a new assignment is polled soon, then less often, up to checkIntervalMs', async () => {
    reset();
    const agent = agents.agent(DEST);
    const { lanes, of } = lanesWith({ checkIntervalMs: 2000 });
    const a = built(DEST);
    lanes.enqueue(a);
    await until(() => agent.held.size === 1, 'posted');
    const posted = Date.now();
    agent.gets = 0;
    // Still running: polled at about 50, 100, 200, 400 and 800 ms after the post, not every 5 ms
    // nor only once in 2 s.
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(agent.gets >= 3 && agent.gets <= 6, `${agent.gets} polls in the first second`);
    agent.completeAll();
    await until(() => of('finished').length === 1, 'finished');
    // Seen done at the next poll, about 1.6 s after the post: before the 2 s interval.
    assert.ok(Date.now() - posted < 2000, `seen done ${Date.now() - posted} ms after the post`);
    const b = built(DEST);
    agent.autoComplete = true;
    const started = Date.now();
    lanes.enqueue(b);
    await until(() => of('finished').length === 2, 'the second finished');
    assert.ok(Date.now() - started < 500, `a quick one seen done in ${Date.now() - started} ms`);
    await lanes.idle();
  });

  test('idle() resolves at once with no work, and once every lane is done', async () => {
    reset();
    const { lanes } = lanesWith();
    await lanes.idle();
    lanes.enqueue(built(DEST));
    lanes.enqueue(built(DEST2));
    let idle = false;
    const waiting = lanes.idle().then(() => {
      idle = true;
    });
    await until(() => agents.agent(DEST2).held.size === 1, 'posted');
    agents.agent(DEST2).completeAll();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(idle, false, 'one lane still holds work');
    agents.agent(DEST).completeAll();
    await waiting;
    assert.equal(lanes.busy, false);
  });

  test('cancel (the job signal aborted): idle() resolves, nothing more is posted or reported', async () => {
    reset();
    const agent = agents.agent(DEST);
    const { lanes, events, abort, failures } = lanesWith({ maxAssignmentsPerAgent: 1 });
    for (let i = 0; i < 3; i++) lanes.enqueue(built(DEST));
    await until(() => events.length === 1, 'the first posted');
    const idle = lanes.idle();
    abort.abort(new Error('stopped'));
    await idle;
    const gets = agent.gets;
    agent.completeAll();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(agent.posts.length, 1, 'the backlog was not posted');
    assert.ok(agent.gets <= gets + 1, 'polling stopped');
    assert.equal(events.length, 1, 'no outcome after the cancel');
    assert.deepEqual(failures, [], 'an abort is not a failure');
  });

  test('an outcome that fails (the store, say) fails the job, naming the lane loop', async () => {
    reset();
    agents.agent(DEST).autoComplete = true;
    const posting = lanesWith({}, 'posted');
    posting.lanes.enqueue(built(DEST));
    await until(() => posting.failures.length > 0, 'posting failed');
    assert.deepEqual(posting.failures, ['posting: the store failed']);
    const checking = lanesWith({}, 'finished');
    checking.lanes.enqueue(built(DEST));
    await until(() => checking.failures.length > 0, 'checking failed');
    assert.deepEqual(checking.failures, ['checking: the store failed']);
    posting.abort.abort();
    checking.abort.abort();
  });
});
