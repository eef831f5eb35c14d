/**
 * The job's controls where its lanes post (issue 15): the objects/s and bytes/s pacer, the
 * pause gate, a cancel while paused, and the blockers an agent's answers report. Real timers,
 * the manager's real agent client, scripted agents on real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UNLIMITED } from '../../../../src/manager/store/index.ts';
import { DEST, DEST2, until } from './helpers.ts';
import { built, lanesOver } from './lanes-fixture.ts';
import { type ScriptedAgent, scriptedAgents } from './scripted-agent.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Posts per second after the first `burst` (a full bucket passes at once), from their times. */
function rateAfterBurst(times: readonly number[], units: readonly number[], burst: number) {
  let skipped = 0;
  let i = 0;
  while (i < times.length && skipped + (units[i] ?? 0) <= burst) skipped += units[i++] ?? 0;
  const rest = units.slice(i).reduce((s, n) => s + n, 0);
  const first = times[Math.max(0, i - 1)] ?? 0;
  const last = times[times.length - 1] ?? 0;
  return { perSecond: rest / ((last - first) / 1000), seconds: (last - (times[0] ?? 0)) / 1000 };
}

describe('posting controls', () => {
  let agents: Awaited<ReturnType<typeof scriptedAgents>>;
  before(async () => {
    agents = await scriptedAgents([DEST, DEST2]);
  });
  after(async () => {
    await agents.close();
  });

  function reset(): ScriptedAgent[] {
    return [DEST, DEST2].map((s) => {
      const a = agents.agent(s);
      a.reset(true);
      return a;
    });
  }

  /** Every accepted post over both agents, in time order. */
  const acceptedAll = (all: ScriptedAgent[]) =>
    all.flatMap((a) => a.accepted).sort((x, y) => x.at - y.at);

  test('objects per second: the job posts at its limit over all agents', async () => {
    const all = reset();
    const { lanes, pacer } = lanesOver(agents, {
      limits: { ...UNLIMITED, objects_per_second: 10 },
    });
    // 30 objects in 15 assignments of 2, on two agents: 10 at once, then 20 at 10/s.
    for (let i = 0; i < 15; i++) lanes.enqueue(built(i % 2 ? DEST : DEST2, 2));
    await lanes.idle();
    const posts = acceptedAll(all);
    assert.equal(posts.length, 15);
    const r = rateAfterBurst(
      posts.map((p) => p.at),
      posts.map((p) => p.tasks),
      10,
    );
    assert.ok(r.perSecond <= 13 && r.perSecond >= 6, `posted ${r.perSecond} objects/s`);
    assert.ok(r.seconds >= 1.6, `all posted in ${r.seconds}s`);
    const measured = pacer.rates().objects_per_second;
    assert.ok(measured >= 5 && measured <= 20, `measured ${measured} objects/s`);
  });

  test('a new limit takes effect while posts wait', async () => {
    const all = reset();
    const { lanes, pacer } = lanesOver(agents, { limits: { ...UNLIMITED, objects_per_second: 4 } });
    for (let i = 0; i < 40; i++) lanes.enqueue(built(i % 2 ? DEST : DEST2));
    await sleep(1500);
    const before = acceptedAll(all).length;
    assert.ok(before >= 6 && before <= 14, `${before} posted at 4/s in 1.5 s`);
    const changedAt = performance.now();
    pacer.setLimits({ ...UNLIMITED, objects_per_second: 200 });
    await lanes.idle();
    const took = performance.now() - changedAt;
    // At 4/s the rest would take about 7 s.
    assert.ok(took < 2000, `the rest took ${took}ms after the change`);
    assert.equal(acceptedAll(all).length, 40);
  });

  test('bytes per second: the job posts its assignments at its byte limit', async () => {
    const all = reset();
    const { lanes } = lanesOver(agents, { limits: { ...UNLIMITED, bytes_per_second: 2000 } });
    // 16 assignments of 500 bytes: 2000 bytes at once, then 6000 at 2000/s.
    for (let i = 0; i < 16; i++) lanes.enqueue(built(i % 2 ? DEST : DEST2, 1, 500));
    await lanes.idle();
    const posts = acceptedAll(all);
    const r = rateAfterBurst(
      posts.map((p) => p.at),
      posts.map(() => 500),
      2000,
    );
    assert.ok(r.perSecond <= 2600 && r.perSecond >= 1200, `posted ${r.perSecond} bytes/s`);
    assert.ok(r.seconds >= 2.4, `all posted in ${r.seconds}s`);
  });

  test('paused: nothing new is posted; what agents hold finishes; resume posts the rest', async () => {
    const [agent] = reset() as [ScriptedAgent];
    agent.autoComplete = false;
    const { lanes, gate, of } = lanesOver(agents);
    lanes.enqueue(built(DEST));
    lanes.enqueue(built(DEST));
    await until(() => of('posted').length === 2, 'two posted');
    gate.close();
    for (let i = 0; i < 3; i++) lanes.enqueue(built(DEST));
    await sleep(200);
    assert.equal(agent.posts.length, 2, 'nothing posted while paused');
    // Polling goes on: what the agent had finishes.
    agent.completeAll();
    await until(() => of('finished').length === 2, 'the posted ones finished while paused');
    await sleep(100);
    assert.equal(agent.posts.length, 2);
    assert.equal(lanes.busy, true, 'the paused backlog is work of the job');
    agent.autoComplete = true;
    gate.open();
    await lanes.idle();
    assert.equal(of('finished').length, 5);
    assert.equal(agent.posts.length, 5);
  });

  test('started paused, then cancelled: nothing is posted, what was built is withdrawn', async () => {
    const [agent] = reset() as [ScriptedAgent];
    const { lanes, cancel, events } = lanesOver(agents, { paused: true });
    const three = [built(DEST), built(DEST), built(DEST)];
    for (const a of three) lanes.enqueue(a);
    await sleep(150);
    assert.equal(agent.posts.length, 0);
    cancel.abort(new Error('cancelled'));
    await lanes.idle();
    assert.deepEqual(
      events,
      three.map((a) => `withdrawn:${a.record.id}`),
    );
    assert.equal(agent.posts.length, 0);
  });

  test('cancelled while throttled: the backlog is withdrawn, not posted at the limit', async () => {
    const [agent] = reset() as [ScriptedAgent];
    const { lanes, cancel, of } = lanesOver(agents, {
      limits: { ...UNLIMITED, objects_per_second: 2 },
    });
    // 2 pass at once; at 2/s the other 8 would take 8 s to post.
    for (let i = 0; i < 10; i++) lanes.enqueue(built(DEST, 1));
    await until(() => agent.accepted.length >= 1, 'the first post');
    const started = performance.now();
    cancel.abort(new Error('cancelled'));
    await lanes.idle();
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 2, `the cancel took ${seconds.toFixed(1)} s`);
    assert.ok(of('withdrawn').length >= 7, JSON.stringify(of('withdrawn')));
    assert.equal(of('withdrawn').length + agent.posts.length, 10);
  });

  test('a post retried while busy waits out a pause, and a cancel then withdraws it', async () => {
    const [agent] = reset() as [ScriptedAgent];
    agent.postStatus = 503;
    const { lanes, gate, cancel, events } = lanesOver(agents, {
      settings: { busyRetries: 1000, busyDelayMs: () => 10 },
    });
    const a = built(DEST);
    lanes.enqueue(a);
    await until(() => agent.posts.length >= 2, 'posted again while busy');
    gate.close();
    await sleep(50);
    const posts = agent.posts.length;
    await sleep(150);
    assert.equal(agent.posts.length, posts, 'no retry while paused');
    cancel.abort(new Error('cancelled'));
    await lanes.idle();
    assert.deepEqual(events, [`withdrawn:${a.record.id}`]);
  });

  test('an agent refusing connections is a blocker until it answers', async () => {
    const [agent] = reset() as [ScriptedAgent];
    const { lanes, blockers, of } = lanesOver(agents, {
      settings: { agentOutageToleranceMs: 30_000 },
    });
    await agent.stop();
    const startedAt = Date.now();
    lanes.enqueue(built(DEST));
    await until(() => blockers.list().length > 0, 'a blocker');
    const [blocker] = blockers.list();
    assert.equal(blocker?.source, `agent ${DEST.manta_storage_id}`);
    assert.match(blocker?.problem ?? '', /ECONNREFUSED/);
    assert.ok((blocker?.since ?? 0) >= startedAt && (blocker?.since ?? 0) <= Date.now());
    await sleep(50);
    assert.equal(blockers.list()[0]?.since, blocker?.since, 'the first failure is its since');
    await agent.restart();
    await until(() => of('posted').length === 1, 'posted once it answers');
    assert.deepEqual(blockers.list(), []);
    await lanes.idle();
  });

  test('a busy streak is a blocker until the agent takes the assignment', async () => {
    const [agent] = reset() as [ScriptedAgent];
    agent.postStatus = 503;
    const { lanes, blockers, of } = lanesOver(agents, { settings: { busyRetries: 1000 } });
    lanes.enqueue(built(DEST));
    await until(() => agent.posts.length >= 3, 'busy three times');
    assert.match(blockers.list()[0]?.problem ?? '', /^busy \(HTTP 503\) to \d+ posts in a row$/);
    agent.postStatus = undefined;
    await until(() => of('posted').length === 1, 'taken');
    assert.deepEqual(blockers.list(), []);
    await lanes.idle();
  });
});
