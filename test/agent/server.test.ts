import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import type { AgentConfig } from '../../src/agent/config.ts';
import { TaskAbortedError, type TaskProcessor } from '../../src/agent/processor.ts';
import type { Task } from '../../src/api/common.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import { assertJsonError, PROTOCOL_CASES, rawRequest } from '../support/raw-http.ts';
import {
  getAssignment,
  postAssignment,
  putSourceObject,
  silentLog,
  type TempDirs,
  taskFor,
  tempDirs,
  testConfig,
  waitComplete,
} from './helpers.ts';

const MD5 = md5Base64('x');
/** The Manta domain of the agents here: fakeTask's source is one of its storage nodes. */
const DOMAIN = 'us-west.joyent.us';

function agentConfig(dirs: TempDirs, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return testConfig(dirs, { domainName: DOMAIN, ...overrides });
}

function fakeTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object_id: randomUUID(),
    owner: randomUUID(),
    md5sum: MD5,
    source: { datacenter: 'dc1', manta_storage_id: '3.stor.us-west.joyent.us' },
    status: 'Pending',
    ...overrides,
  };
}

/** A processor that holds every task until released, recording the order tasks start in. */
function gatedProcessor() {
  const started: string[] = [];
  let open = false;
  let waiters: (() => void)[] = [];
  const processor: TaskProcessor = async (task, signal) => {
    started.push(task.object_id);
    if (!open) {
      await new Promise<void>((resolve, reject) => {
        waiters.push(resolve);
        signal.addEventListener('abort', () => reject(new TaskAbortedError('aborted')), {
          once: true,
        });
      });
    }
    if (task.object_id.startsWith('crash')) throw new Error('processor bug');
    return { status: 'Complete', outcome: 'complete', bytes: 0 };
  };
  return {
    processor,
    started,
    release() {
      open = true;
      for (const w of waiters) w();
      waiters = [];
    },
  };
}

describe('agent HTTP API with the download processor', () => {
  let dirs: TempDirs;
  let mako: MakoHandle;
  let agent: RunningAgent;

  before(async () => {
    dirs = await tempDirs();
    mako = await startMako({ root: dirs.sourceRoot, log: silentLog, keepAlive: true });
    agent = await startAgent(
      agentConfig(dirs, { metrics: { ...agentConfig(dirs).metrics, enabled: true } }),
      { log: silentLog },
    );
  });
  after(async () => {
    await agent.close();
    await mako.close();
    await dirs.cleanup();
  });

  test('the manager example (agent.md §3.7) round-trips exactly', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 2048);
    const id = randomUUID();
    const body = {
      id,
      tasks: [
        {
          object_id: obj.objectId,
          owner: obj.owner,
          md5sum: obj.md5,
          source: { datacenter: 'dc1', manta_storage_id: mako.storageId },
          status: 'Pending',
        },
      ],
    };
    const res = await postAssignment(agent.url, body);
    assert.equal(res.status, 200);
    assert.equal(res.text, JSON.stringify(id));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const done = await waitComplete(agent.url, id);
    assert.equal(
      JSON.stringify(done),
      `{"uuid":"${id}","stats":{"state":{"Complete":null},"failed":0,"complete":1,"total":1}}`,
    );
    assert.deepEqual(await readFile(join(dirs.objectRoot, obj.owner, obj.objectId)), obj.data);
  });

  test('positional form, D status encoding, v1 + v2 + failures listed with L reasons', async () => {
    const good = await putSourceObject(dirs.sourceRoot, 100);
    const v2 = await putSourceObject(dirs.sourceRoot, 100, { v2: true });
    const missing = await putSourceObject(dirs.sourceRoot, 100);
    mako.faults.set({ missing: { paths: [missing.path] } });
    const bad = taskFor(await putSourceObject(dirs.sourceRoot, 100), mako.storageId, MD5);
    const id = randomUUID();
    const tasks = [
      { ...taskFor(good, mako.storageId), status: { state: 'Pending' } },
      taskFor(v2, mako.storageId),
      taskFor(missing, mako.storageId),
      bad,
    ];
    const res = await postAssignment(agent.url, [id, tasks]);
    assert.equal(res.status, 200, res.text);
    const done = await waitComplete(agent.url, id);
    mako.faults.reset();
    assert.equal(done.stats.total, 4);
    assert.equal(done.stats.complete, 4);
    assert.equal(done.stats.failed, 2);
    const failures = (done.stats.state as { Complete: Task[] }).Complete;
    const byId = new Map(failures.map((t) => [t.object_id, t.status]));
    assert.deepEqual(byId.get(missing.objectId), { Failed: 'SourceObjectNotFound' });
    assert.deepEqual(byId.get(bad.object_id), { Failed: 'MD5Mismatch' });
    const listed = failures.find((t) => t.object_id === bad.object_id)!;
    assert.deepEqual(listed, { ...bad, status: { Failed: 'MD5Mismatch' } });
  });

  test('invalid payloads get 400 naming the field; nothing is stored', async () => {
    const same = randomUUID();
    const cases: [unknown, string][] = [
      ['{not json', 'body'],
      [{ id: 'not-a-uuid', tasks: [] }, 'id'],
      [{ id: '../../etc/x', tasks: [] }, 'id'],
      [{ id: randomUUID() }, 'tasks'],
      [{ id: randomUUID(), tasks: [fakeTask({ owner: '..' })] }, 'tasks[0].owner'],
      [
        { id: randomUUID(), tasks: [fakeTask(), fakeTask({ object_id: 'a/../../b' })] },
        'tasks[1].object_id',
      ],
      [{ id: randomUUID(), tasks: [fakeTask({ owner: '/etc' })] }, 'tasks[0].owner'],
      [{ id: randomUUID(), tasks: [fakeTask({ md5sum: 'abc' })] }, 'tasks[0].md5sum'],
      [
        {
          id: randomUUID(),
          tasks: [fakeTask({ source: { datacenter: 'dc', manta_storage_id: 'evil.com/x?' } })],
        },
        'tasks[0].source.manta_storage_id',
      ],
      [
        {
          id: randomUUID(),
          tasks: [
            fakeTask({ source: { datacenter: 'dc', manta_storage_id: 'user@1.stor.x.com' } }),
          ],
        },
        'tasks[0].source.manta_storage_id',
      ],
      [
        {
          id: randomUUID(),
          tasks: [
            fakeTask({ source: { datacenter: 'dc', manta_storage_id: 'http://1.stor.x.com' } }),
          ],
        },
        'tasks[0].source.manta_storage_id',
      ],
      [
        { id: randomUUID(), tasks: [fakeTask({ bucket_id: randomUUID() })] },
        'tasks[0].object_name_hash',
      ],
      [
        {
          id: randomUUID(),
          tasks: [fakeTask({ bucket_id: '../x', object_name_hash: 'a'.repeat(32) })],
        },
        'tasks[0].bucket_id',
      ],
      [{ id: randomUUID(), tasks: [fakeTask({ status: 'Running' })] }, 'tasks[0].status'],
      [
        { id: randomUUID(), tasks: [fakeTask({ object_id: same }), fakeTask({ object_id: same })] },
        'tasks[1].object_id',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await postAssignment(agent.url, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.text}`);
      const err = JSON.parse(res.text) as { code: string; field: string };
      assert.equal(err.code, 'BadRequest');
      assert.equal(err.field, field, res.text);
      if (typeof body === 'object' && body !== null && 'id' in body) {
        assert.equal(
          (await fetch(`${agent.url}/assignments/${String(body.id)}`)).status !== 200,
          true,
        );
      }
    }
  });

  test('unknown keys are refused, naming the key; every key L sends is accepted', async () => {
    const cases: [unknown, string][] = [
      [{ id: randomUUID(), tasks: [], extra: 1 }, 'extra'],
      [{ id: randomUUID(), tasks: [fakeTask({ size: 5 })] }, 'tasks[0].size'],
      [
        {
          id: randomUUID(),
          tasks: [
            fakeTask(),
            fakeTask({
              source: { datacenter: 'dc', manta_storage_id: `3.stor.${DOMAIN}`, port: 80 },
            }),
          ],
        },
        'tasks[1].source.port',
      ],
      [
        { id: randomUUID(), tasks: [fakeTask({ status: { state: 'Pending', note: 'x' } })] },
        'tasks[0].status.note',
      ],
      [
        {
          id: randomUUID(),
          tasks: [
            fakeTask({ status: { state: 'Failed', reason: { type: 'MD5Mismatch', why: 1 } } }),
          ],
        },
        'tasks[0].status.reason.why',
      ],
      [
        { id: randomUUID(), tasks: [fakeTask({ status: { Failed: 'MD5Mismatch', x: 1 } })] },
        'tasks[0].status',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await postAssignment(agent.url, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.text}`);
      const err = JSON.parse(res.text) as { code: string; field: string; message: string };
      assert.equal(err.code, 'BadRequest');
      assert.equal(err.field, field, res.text);
      if (field !== 'tasks[0].status') assert.match(err.message, /unknown key "[a-z]+"/);
    }
    // A task carrying every field L's manager serialises (agent.md §3.2), v2 and a status.
    const gate = gatedProcessor();
    const local = await startAgent(agentConfig(dirs, { stateDir: join(dirs.base, 'sall') }), {
      log: silentLog,
      processor: gate.processor,
    });
    try {
      gate.release();
      const id = randomUUID();
      const full = fakeTask({
        bucket_id: randomUUID(),
        object_name_hash: 'a'.repeat(32),
        status: { Failed: { HTTPStatusCode: 500 } },
      });
      const res = await postAssignment(local.url, { id, tasks: [full, fakeTask()] });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((await waitComplete(local.url, id)).stats.state, { Complete: null });
    } finally {
      await local.close();
    }
  });

  test('errors of the HTTP layer itself are JSON too (raw sockets)', async () => {
    const port = Number(new URL(agent.url).port);
    for (const c of PROTOCOL_CASES) {
      assertJsonError(await rawRequest(port, c.bytes), c.status, c.what);
    }
    assert.equal((await fetch(`${agent.url}/assignments/${randomUUID()}`)).status, 404);
  });

  test('Content-Type is ignored, as in L', async () => {
    for (const type of ['text/plain', 'application/octet-stream']) {
      const id = randomUUID();
      const res = await fetch(`${agent.url}/assignments`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: JSON.stringify({ id, tasks: [] }),
      });
      assert.equal(res.status, 200, type);
      assert.equal(await res.text(), JSON.stringify(id));
      await waitComplete(agent.url, id);
    }
  });

  test('duplicate ids get 409, also for concurrent POSTs and after completion', async () => {
    const id = randomUUID();
    const [a, b] = await Promise.all([
      postAssignment(agent.url, { id, tasks: [] }),
      postAssignment(agent.url, { id, tasks: [] }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    await waitComplete(agent.url, id);
    const again = await postAssignment(agent.url, { id: id.toUpperCase(), tasks: [] });
    assert.equal(again.status, 409);
    assert.equal(JSON.parse(again.text).code, 'Conflict');
  });

  test('ids are canonical: upper-case and un-hyphenated forms reach the same record', async () => {
    const id = randomUUID();
    assert.equal(
      (await postAssignment(agent.url, { id: id.toUpperCase(), tasks: [] })).status,
      200,
    );
    await waitComplete(agent.url, id);
    const plain = id.replaceAll('-', '').toUpperCase();
    assert.equal((await getAssignment(agent.url, plain)).uuid, id);
  });

  test('GET/DELETE: 400 malformed, 404 unknown; DELETE of a completed one is 200 and frees the id', async () => {
    const bad = await fetch(`${agent.url}/assignments/..%2F..%2Fetc`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'uuid');
    const unknown = await fetch(`${agent.url}/assignments/${randomUUID()}`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'NotFound');
    assert.equal(
      (await fetch(`${agent.url}/assignments/${randomUUID()}`, { method: 'DELETE' })).status,
      404,
    );
    assert.equal((await fetch(`${agent.url}/assignments/zz`, { method: 'DELETE' })).status, 400);

    const id = randomUUID();
    await postAssignment(agent.url, { id, tasks: [] });
    await waitComplete(agent.url, id);
    const del = await fetch(`${agent.url}/assignments/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(await del.text(), '');
    assert.equal((await fetch(`${agent.url}/assignments/${id}`)).status, 404);
    assert.equal((await postAssignment(agent.url, { id, tasks: [] })).status, 200);
  });

  test('unknown routes are 404 and known paths with other methods 405, with JSON bodies', async () => {
    const r1 = await fetch(`${agent.url}/nope`);
    assert.equal(r1.status, 404);
    assert.equal(((await r1.json()) as { code: string }).code, 'NotFound');
    const r2 = await fetch(`${agent.url}/assignments`, { method: 'PUT' });
    assert.equal(r2.status, 405);
    assert.equal(((await r2.json()) as { code: string }).code, 'MethodNotAllowed');
  });

  test('metrics are served on /metrics with L names and constant labels; 404 elsewhere', async () => {
    const res = await fetch(agent.metricsUrl!);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const name of [
      'request_count',
      'object_count',
      'error_count',
      'bytes_count',
      'assignment_time_bucket',
    ]) {
      assert.match(text, new RegExp(`^${name}\\{`, 'm'), name);
    }
    assert.match(
      text,
      /request_count\{req="POST",service="1\.rebalancer\.localhost",server="127\.0\.0\.1",datacenter="development",zonename="[^"]+"\} \d+/,
    );
    assert.match(text, /error_count\{error="md5_mismatch"/);
    assert.match(text, /error_count\{error="source_object_not_found"/);
    assert.match(text, /object_count\{type="complete"/);
    assert.doesNotMatch(text, /Failed to deserialize/);
    const other = await fetch(agent.metricsUrl!.replace('/metrics', '/other'));
    assert.equal(other.status, 404);
    await other.text();
  });
});

describe('agent HTTP API: limits, auth, scheduling', () => {
  let dirs: TempDirs;

  before(async () => {
    dirs = await tempDirs();
  });
  after(async () => {
    await dirs.cleanup();
  });

  test('503 with Retry-After when queued+running reaches the limit; 403 deleting a running one', async () => {
    const gate = gatedProcessor();
    const agent = await startAgent(
      agentConfig(dirs, { maxQueued: 2, stateDir: join(dirs.base, 's503') }),
      {
        log: silentLog,
        processor: gate.processor,
      },
    );
    try {
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      assert.equal(
        (await postAssignment(agent.url, { id: ids[0], tasks: [fakeTask()] })).status,
        200,
      );
      assert.equal(
        (await postAssignment(agent.url, { id: ids[1], tasks: [fakeTask()] })).status,
        200,
      );
      const full = await postAssignment(agent.url, { id: ids[2], tasks: [fakeTask()] });
      assert.equal(full.status, 503);
      assert.equal(full.headers.get('retry-after'), '5');
      assert.equal(JSON.parse(full.text).code, 'QueueFull');
      assert.equal((await getAssignment(agent.url, ids[0]!)).stats.state, 'Running');
      assert.equal((await getAssignment(agent.url, ids[1]!)).stats.state, 'Running');
      const del = await fetch(`${agent.url}/assignments/${ids[0]}`, { method: 'DELETE' });
      assert.equal(del.status, 403);
      assert.equal(((await del.json()) as { code: string }).code, 'Forbidden');
      gate.release();
      await waitComplete(agent.url, ids[0]!);
      await waitComplete(agent.url, ids[1]!);
      assert.equal(
        (await postAssignment(agent.url, { id: ids[2], tasks: [fakeTask()] })).status,
        200,
      );
      await waitComplete(agent.url, ids[2]!);
    } finally {
      await agent.close();
    }
  });

  test('413 for an oversize body and for too many tasks', async () => {
    const agent = await startAgent(
      agentConfig(dirs, {
        bodyLimitBytes: 4096,
        maxTasksPerAssignment: 3,
        stateDir: join(dirs.base, 's413'),
      }),
      { log: silentLog },
    );
    try {
      const big = await postAssignment(agent.url, {
        id: randomUUID(),
        tasks: Array.from({ length: 40 }, () => fakeTask()),
      });
      assert.equal(big.status, 413);
      assert.equal(JSON.parse(big.text).code, 'PayloadTooLarge');
      const many = await postAssignment(agent.url, {
        id: randomUUID(),
        tasks: Array.from({ length: 4 }, () => fakeTask()),
      });
      assert.equal(many.status, 413);
      assert.equal(JSON.parse(many.text).field, 'tasks');
    } finally {
      await agent.close();
    }
  });

  test('bearer token: 401 without or with a wrong token, 200 with it', async () => {
    const token = 'a-very-secret-token-123';
    const agent = await startAgent(
      agentConfig(dirs, { authToken: token, stateDir: join(dirs.base, 'sauth') }),
      {
        log: silentLog,
      },
    );
    try {
      const id = randomUUID();
      const none = await postAssignment(agent.url, { id, tasks: [] });
      assert.equal(none.status, 401);
      assert.equal(JSON.parse(none.text).code, 'Unauthorized');
      assert.equal(
        (await postAssignment(agent.url, { id, tasks: [] }, 'wrong-token-wrong-token')).status,
        401,
      );
      assert.equal((await fetch(`${agent.url}/assignments/${id}`)).status, 401);
      assert.equal((await postAssignment(agent.url, { id, tasks: [] }, token)).status, 200);
      await waitComplete(agent.url, id, token);
    } finally {
      await agent.close();
    }
  });

  test('tasks of different assignments interleave round-robin', async () => {
    const gate = gatedProcessor();
    const agent = await startAgent(
      agentConfig(dirs, {
        workers: 2,
        workersPerAssignment: 1,
        maxDownloads: 1,
        idPolicy: 'token',
        stateDir: join(dirs.base, 'srr'),
      }),
      { log: silentLog, processor: gate.processor },
    );
    try {
      const a = randomUUID();
      const b = randomUUID();
      const tasksOf = (p: string) => [0, 1, 2, 3].map((i) => fakeTask({ object_id: `${p}${i}` }));
      await postAssignment(agent.url, { id: a, tasks: tasksOf('a') });
      await postAssignment(agent.url, { id: b, tasks: tasksOf('b') });
      gate.release();
      await waitComplete(agent.url, a);
      await waitComplete(agent.url, b);
      assert.deepEqual(gate.started, ['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
    } finally {
      await agent.close();
    }
  });

  test('a task whose processing crashes is reported failed (AgentFSError), never complete', async () => {
    const gate = gatedProcessor();
    gate.release();
    const agent = await startAgent(
      agentConfig(dirs, { idPolicy: 'token', stateDir: join(dirs.base, 'scrash') }),
      {
        log: silentLog,
        processor: gate.processor,
      },
    );
    try {
      const id = randomUUID();
      const crash = fakeTask({ object_id: 'crash-1' });
      await postAssignment(agent.url, { id, tasks: [fakeTask(), crash] });
      const done = await waitComplete(agent.url, id);
      assert.equal(done.stats.failed, 1);
      assert.deepEqual(done.stats.state, {
        Complete: [{ ...crash, status: { Failed: 'AgentFSError' } }],
      });
    } finally {
      await agent.close();
    }
  });

  test('shutdown interrupts in-flight tasks; restart resumes without redoing done tasks', async () => {
    const stateDir = join(dirs.base, 'sresume');
    const first = gatedProcessor();
    const agent1 = await startAgent(
      agentConfig(dirs, {
        workers: 1,
        workersPerAssignment: 1,
        maxDownloads: 1,
        idPolicy: 'token',
        stateDir,
      }),
      {
        log: silentLog,
        processor: first.processor,
      },
    );
    const id = randomUUID();
    await postAssignment(agent1.url, {
      id,
      tasks: [0, 1, 2].map((i) => fakeTask({ object_id: `t${i}` })),
    });
    // t0 is held by the gate: stop with no grace, so it is interrupted and stays pending.
    await agent1.close(0);
    assert.deepEqual(first.started, ['t0']);

    const second = gatedProcessor();
    second.release();
    const agent2 = await startAgent(agentConfig(dirs, { stateDir, idPolicy: 'token' }), {
      log: silentLog,
      processor: second.processor,
    });
    try {
      const done = await waitComplete(agent2.url, id);
      assert.deepEqual(done.stats, { state: { Complete: null }, failed: 0, complete: 3, total: 3 });
      assert.deepEqual(second.started, ['t0', 't1', 't2']);
    } finally {
      await agent2.close();
    }
  });

  test('completed assignments past retention are removed at start', async () => {
    const stateDir = join(dirs.base, 'sretention');
    const agent1 = await startAgent(agentConfig(dirs, { stateDir, completedRetentionSecs: 1 }), {
      log: silentLog,
    });
    const id = randomUUID();
    await postAssignment(agent1.url, { id, tasks: [] });
    const done = await waitComplete(agent1.url, id);
    assert.deepEqual(done.stats.state, { Complete: null });
    await agent1.close();
    await new Promise((r) => setTimeout(r, 1100));
    const agent2 = await startAgent(agentConfig(dirs, { stateDir, completedRetentionSecs: 1 }), {
      log: silentLog,
    });
    try {
      assert.equal((await fetch(`${agent2.url}/assignments/${id}`)).status, 404);
    } finally {
      await agent2.close();
    }
  });
});
