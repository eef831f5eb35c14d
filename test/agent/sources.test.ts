/**
 * A task's source becomes the authority of the URL the agent fetches (agent.md §10.4), so it
 * must be a storage node of the configured Manta domain (`N.stor.<domain_name>`, no port) or
 * one the host-alias map names; nothing else is fetched from, and a bad one is refused at the
 * API (400 naming the task and the source) before anything is stored.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { ConfigError, resolveConfig } from '../../src/agent/config.ts';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { sourceProblem } from '../../src/agent/payload.ts';
import { DownloadProcessor, type TaskProcessor } from '../../src/agent/processor.ts';
import type { Task } from '../../src/api/common.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import {
  postAssignment,
  putSourceObject,
  silentLog,
  type TempDirs,
  taskFor,
  tempDirs,
  testConfig,
  waitComplete,
} from './helpers.ts';

const DOMAIN = 'us-west.joyent.us';
const ALIASED = '1.stor.sandbox.test';

/** Sources that must never be fetched from, whatever resolves them. */
function refusedSources(makoPort: number): string[] {
  return [
    '1.stor.localhost',
    '1.stor.169.254.169.254',
    '1.stor.evil.example',
    `3.stor.${DOMAIN}:8080`,
    `3.stor.evil.${DOMAIN}`,
    `1.stor.localhost:${makoPort}`,
    `${ALIASED}:81`,
    '2.stor.sandbox.test',
    `127.0.0.1:${makoPort}`,
  ];
}

describe('task sources', () => {
  let dirs: TempDirs;
  let mako: MakoHandle;
  let makoPort: number;
  const aliases = () => new Map([[`${ALIASED}:80`, mako.storageId]]);

  before(async () => {
    dirs = await tempDirs();
    mako = await startMako({ root: dirs.sourceRoot, log: silentLog });
    makoPort = Number(mako.storageId.split(':')[1]);
  });
  after(async () => {
    await mako.close();
    await dirs.cleanup();
  });

  test('sourceProblem: the domain and the aliases only; host:port only when allowed', () => {
    const rules = { mantaDomain: DOMAIN, hostAliases: aliases(), allowHostPortSources: false };
    for (const id of refusedSources(makoPort)) {
      assert.notEqual(sourceProblem(id, rules), undefined, id);
    }
    for (const id of [`3.stor.${DOMAIN}`, `10.stor.US-WEST.joyent.us`, ALIASED, `${ALIASED}:80`]) {
      assert.equal(sourceProblem(id, rules), undefined, id);
    }
    const noDomain = { allowHostPortSources: false };
    assert.match(sourceProblem(`3.stor.${DOMAIN}`, noDomain)!, /no Manta domain is configured/);
    // Test deployments opt into host:port; a portless id still needs the domain or an alias.
    const tests = { ...rules, allowHostPortSources: true };
    assert.equal(sourceProblem(`127.0.0.1:${makoPort}`, tests), undefined);
    assert.notEqual(sourceProblem('1.stor.evil.example', tests), undefined);
  });

  test('the API refuses every bad source (400 naming task and source); good ones run', async () => {
    const seen: Task[] = [];
    const processor: TaskProcessor = async (task) => {
      seen.push(task);
      return { status: 'Complete', outcome: 'complete', bytes: 0 };
    };
    const agent = await startAgent(
      testConfig(dirs, {
        stateDir: join(dirs.base, 'api'),
        allowHostPortSources: false,
        domainName: DOMAIN,
        hostAliases: aliases(),
      }),
      { log: silentLog, processor },
    );
    try {
      for (const source of refusedSources(makoPort)) {
        const id = randomUUID();
        const task = validTask(source);
        const res = await postAssignment(agent.url, { id, tasks: [validTask(), task] });
        assert.equal(res.status, 400, `${source}: ${res.text}`);
        const err = JSON.parse(res.text) as { code: string; field: string; message: string };
        assert.equal(err.code, 'BadRequest');
        assert.equal(err.field, 'tasks[1].source.manta_storage_id', source);
        assert.ok(err.message.includes(JSON.stringify(source)), err.message);
        assert.ok(err.message.includes(task.object_id), err.message);
        assert.equal((await fetch(`${agent.url}/assignments/${id}`)).status, 404);
      }
      assert.equal(seen.length, 0, 'no task of a refused assignment was processed');

      const id = randomUUID();
      const good = [`7.stor.${DOMAIN}`, ALIASED].map((source) => validTask(source));
      const res = await postAssignment(agent.url, { id, tasks: good });
      assert.equal(res.status, 200, res.text);
      await waitComplete(agent.url, id);
      assert.deepEqual(
        seen.map((t) => t.source.manta_storage_id),
        [`7.stor.${DOMAIN}`, ALIASED],
      );
    } finally {
      await agent.close();
    }
  });

  test('with the real downloader: the aliased source is fetched, a bad one never', async () => {
    const agent: RunningAgent = await startAgent(
      testConfig(dirs, {
        stateDir: join(dirs.base, 'download'),
        allowHostPortSources: false,
        domainName: DOMAIN,
        hostAliases: aliases(),
      }),
      { log: silentLog },
    );
    try {
      mako.requests.clear();
      const obj = await putSourceObject(dirs.sourceRoot, 1000);
      // `1.stor.localhost:<port>` would reach the mako: it was accepted before the fix.
      for (const source of [`1.stor.localhost:${makoPort}`, `127.0.0.1:${makoPort}`]) {
        const res = await postAssignment(agent.url, {
          id: randomUUID(),
          tasks: [taskFor(obj, source)],
        });
        assert.equal(res.status, 400, `${source}: ${res.text}`);
      }
      assert.equal(mako.requests.list().length, 0, 'nothing was fetched');
      const id = randomUUID();
      assert.equal(
        (await postAssignment(agent.url, { id, tasks: [taskFor(obj, ALIASED)] })).status,
        200,
      );
      assert.deepEqual((await waitComplete(agent.url, id)).stats.state, { Complete: null });
      assert.deepEqual(await readFile(join(dirs.objectRoot, obj.owner, obj.objectId)), obj.data);
      assert.equal(mako.requests.list().length, 1);
    } finally {
      await agent.close();
    }
  });

  test('the downloader checks the rule again: a stored task with a bad source is not fetched', async () => {
    const tempDir = join(dirs.objectRoot, '.check-tmp');
    await mkdir(tempDir, { recursive: true });
    const processor = new DownloadProcessor({
      objectRoot: dirs.objectRoot,
      tempDir,
      idPolicy: 'uuid',
      allowHostPortSources: true,
      sourceAllowed: (id) =>
        sourceProblem(id, { mantaDomain: DOMAIN, allowHostPortSources: false }) === undefined,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 5000,
      retryDelaysMs: [],
      connectionsPerSource: 1,
      log: silentLog,
      metrics: new AgentMetrics({ service: 's', server: 'x', datacenter: 'dc' }),
    });
    try {
      mako.requests.clear();
      const obj = await putSourceObject(dirs.sourceRoot, 100);
      const result = await processor.process(
        taskFor(obj, mako.storageId),
        new AbortController().signal,
      );
      assert.deepEqual(result.status, { Failed: 'AgentFSError' });
      assert.equal(mako.requests.list().length, 0);
    } finally {
      await processor.close();
    }
  });

  test('server.domain_name is a DNS domain, never an address', () => {
    assert.equal(resolveConfig({}).domainName, undefined);
    assert.equal(resolveConfig({ file: { server: { domain_name: DOMAIN } } }).domainName, DOMAIN);
    const flags = new Map([['server.domain_name', 'sandbox.test']]);
    assert.equal(resolveConfig({ flags }).domainName, 'sandbox.test');
    for (const bad of ['169.254.169.254', '-x.example', 'a..b', 'x.example:80', '']) {
      assert.throws(
        () => resolveConfig({ file: { server: { domain_name: bad } } }),
        (e: unknown) => e instanceof ConfigError && e.option === 'server.domain_name',
        bad,
      );
    }
  });
});

/** A task with fresh ids, valid but for its source maybe. */
function validTask(source = `3.stor.${DOMAIN}`): Task {
  return {
    object_id: randomUUID(),
    owner: randomUUID(),
    md5sum: md5Base64(''),
    source: { datacenter: 'dc1', manta_storage_id: source },
    status: 'Pending',
  };
}
