/**
 * The manager's orphan routes over real HTTP, against a real agent serving a real object
 * root: exactly the unnamed, old-enough files are listed (v1 by owner and by creator, v2 by
 * name hash), the summary counts every listed file once, progress lines fill a slow scan, and
 * deletion is refused (audit not safe, an evacuation running, unreadable records, an agent
 * without a token) until it is safe — then it deletes exactly the orphans.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { type RunningAgent, startAgent } from '../../../src/agent/agent.ts';
import type { DiscoveryEvent } from '../../../src/discovery/index.ts';
import { buildManagerApp } from '../../../src/manager/http/server.ts';
import { AgentFilesClient } from '../../../src/manager/orphans/agent-files.ts';
import { OrphanService, type OrphanStore } from '../../../src/manager/orphans/service.ts';
import type { JobRecord } from '../../../src/manager/store/index.ts';
import { objectPath } from '../../../src/manta/index.ts';
import { silentLog, type TempDirs, tempDirs, testConfig } from '../../agent/helpers.ts';
import { malformed, putFile, SHARK, scan, v1Record, v2Record } from './fixture.ts';

const TOKEN = 'orphans-test-token-0123456789';
const HOURS_2 = 7200;

type Line = Record<string, unknown>;

async function call(url: string, init?: RequestInit): Promise<{ status: number; lines: Line[] }> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, lines: [JSON.parse(text) as Line] };
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  return {
    status: res.status,
    lines: text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line),
  };
}

const orphanPaths = (lines: Line[]) =>
  lines
    .filter((l) => 'path' in l)
    .map((l) => l.path)
    .sort();
const summaryOf = (lines: Line[]) => lines.at(-1)?.summary as Record<string, number> | undefined;

describe('orphan routes', () => {
  let dirs: TempDirs;
  let agent: RunningAgent;
  let open: RunningAgent;
  let app: FastifyInstance;
  let base: string;
  let files: AgentFilesClient;
  const store: OrphanStore & { audit: unknown; jobs: JobRecord[] } = {
    audit: undefined,
    jobs: [],
    latestAuditOf: async () => store.audit as Awaited<ReturnType<OrphanStore['latestAuditOf']>>,
    jobsInStates: async () => store.jobs,
  };
  let events: DiscoveryEvent[] = [];
  let agentUrl = '';
  let scanDelayMs = 0;
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  const bucket = randomUUID();
  const p = (owner: string, id: string) => objectPath({ owner, objectId: id });
  const kept = { k1: randomUUID(), k2: randomUUID(), k3: randomUUID() };
  const v2kept = v2Record(a, bucket, kept.k3, 'photos/kept.jpg');
  const v2orphan = v2Record(a, bucket, randomUUID(), 'photos/moved.jpg');
  const orphans = [p(a, randomUUID()), p(b, randomUUID()), v2orphan.path];
  const recent = p(a, randomUUID());

  before(async () => {
    dirs = await tempDirs();
    const root = dirs.objectRoot;
    await putFile(root, p(a, kept.k1), 10, HOURS_2);
    // Owned by b, created by c: muskie reads /c/<id>.
    await putFile(root, p(c, kept.k2), 10, HOURS_2);
    await putFile(root, v2kept.path, 10, HOURS_2);
    for (const [i, path] of orphans.entries()) await putFile(root, path, 100 >> i, HOURS_2);
    await putFile(root, recent, 5, 10);
    await putFile(root, '/nginx_temp/0000000001', 5, HOURS_2);
    events = [v1Record(a, kept.k1), v1Record(b, kept.k2, c), v2kept.event];
    agent = await startAgent(testConfig(dirs, { authToken: TOKEN }), { log: silentLog });
    open = await startAgent(testConfig(dirs, { stateDir: join(dirs.base, 'open') }), {
      log: silentLog,
    });
    agentUrl = agent.url;
    files = new AgentFilesClient({ urlFor: () => agentUrl, authToken: () => TOKEN });
    const orphansService = new OrphanService({
      files,
      discover: () => scan(events, scanDelayMs),
      store,
      log: silentLog,
      progressIntervalMs: 20,
      pageSize: 2,
    });
    app = await buildManagerApp({
      jobs: {} as never,
      metrics: {} as never,
      log: silentLog,
      orphans: orphansService,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await files?.close();
    await agent?.close();
    await open?.close();
    await dirs?.cleanup();
  });
  // The agent without a token, reached through the same client for one test.
  const useOpenAgent = (yes: boolean) => {
    agentUrl = yes ? open.url : agent.url;
  };

  test('lists exactly the old files no record names, with a summary of every listed file', async () => {
    const { status, lines } = await call(`${base}/sharks/${SHARK}/orphans`);
    assert.equal(status, 200);
    assert.deepEqual(orphanPaths(lines), [...orphans].sort());
    assert.deepEqual(
      { ...summaryOf(lines), listed_at: undefined },
      {
        files: 3,
        bytes: 100 + 50 + 25,
        listed_files: 7,
        listed_bytes: 30 + 175 + 5,
        kept: 3,
        too_recent: 1,
        // mako's nginx_temp and the agent's own temp area.
        skipped_entries: 2,
        live_records: 3,
        unreadable_records: 0,
        grace_seconds: 3600,
        listed_at: undefined,
      },
    );
    const zero = await call(`${base}/sharks/${SHARK}/orphans?grace_seconds=0`);
    assert.deepEqual(orphanPaths(zero.lines), [...orphans, recent].sort());
  });

  test('a slow scan is filled with progress lines before the orphans', async () => {
    scanDelayMs = 40;
    try {
      const { lines } = await call(`${base}/sharks/${SHARK}/orphans`);
      const first = lines.findIndex((l) => 'path' in l);
      const progress = lines.slice(0, first).map((l) => l.progress as Record<string, unknown>);
      assert.ok(progress.length > 0, JSON.stringify(lines));
      assert.ok(progress.some((pr) => pr.phase === 'scanning' && pr.listed_files === 7));
      assert.ok(summaryOf(lines));
    } finally {
      scanDelayMs = 0;
    }
  });

  test('a client that goes away mid-scan ends the search and leaves no spool behind', async () => {
    const spools = async () =>
      (await readdir(tmpdir())).filter((n) => n.startsWith('rebalancer-orphans-'));
    const before = await spools();
    scanDelayMs = 40;
    try {
      const abort = new AbortController();
      const res = await fetch(`${base}/sharks/${SHARK}/orphans`, { signal: abort.signal });
      const reader = res.body?.getReader();
      assert.ok(reader);
      const first = new TextDecoder().decode((await reader.read()).value);
      assert.match(first, /"progress"/);
      assert.ok((await spools()).length > before.length, 'a spool while the search runs');
      abort.abort();
      const deadline = Date.now() + 5000;
      while ((await spools()).length > before.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(await spools(), before);
    } finally {
      scanDelayMs = 0;
    }
  });

  test('bad input is a 400; an agent without auth_token is a 503 saying so', async () => {
    assert.equal((await call(`${base}/sharks/not-a-shark/orphans`)).status, 400);
    assert.equal((await call(`${base}/sharks/${SHARK}/orphans?grace_seconds=x`)).status, 400);
    useOpenAgent(true);
    try {
      const { status, lines } = await call(`${base}/sharks/${SHARK}/orphans`);
      assert.equal(status, 503);
      assert.match(String(lines[0]?.message), /auth_token/);
    } finally {
      useOpenAgent(false);
    }
  });

  const del = (body: unknown = {}) =>
    call(`${base}/sharks/${SHARK}/orphans/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  async function onDisk(path: string): Promise<boolean> {
    return stat(join(dirs.objectRoot, path)).then(
      () => true,
      () => false,
    );
  }

  test('deletion is refused without a safe audit, while an evacuation runs, and with unreadable records', async () => {
    store.audit = undefined;
    const none = await del();
    assert.equal(none.status, 409);
    assert.equal(none.lines[0]?.code, 'AuditNotSafe');
    store.audit = { jobId: randomUUID(), verdict: 'unsafe', finishedAt: new Date() };
    assert.equal((await del()).lines[0]?.code, 'AuditNotSafe');
    store.audit = { jobId: randomUUID(), verdict: 'safe', finishedAt: new Date() };
    store.jobs = [{ id: randomUUID(), action: 'evacuate', dryRun: false } as JobRecord];
    const running = await del();
    assert.equal(running.status, 409);
    assert.equal(running.lines[0]?.code, 'JobsRunning');
    store.jobs = [{ id: randomUUID(), action: 'evacuate', dryRun: true } as JobRecord];
    events.push(malformed());
    try {
      const unreadable = await del();
      assert.equal(unreadable.status, 200);
      assert.equal(
        (unreadable.lines.at(-1)?.error as { code: string } | undefined)?.code,
        'MetadataUnreadable',
      );
    } finally {
      events.pop();
    }
    for (const path of orphans) assert.ok(await onDisk(path), `${path} kept`);
  });

  test('once safe, deletes exactly the orphans (found afresh) and reports each', async () => {
    store.audit = { jobId: randomUUID(), verdict: 'safe', finishedAt: new Date() };
    store.jobs = [];
    const { status, lines } = await del({ grace_seconds: 3600 });
    assert.equal(status, 200);
    const handled = lines.filter((l) => 'path' in l);
    assert.deepEqual(handled.map((l) => l.path).sort(), [...orphans].sort());
    assert.ok(handled.every((l) => l.outcome === 'deleted'));
    const summary = summaryOf(lines);
    assert.equal(summary?.deleted, 3);
    assert.equal(summary?.deleted_bytes, 175);
    for (const path of orphans) assert.equal(await onDisk(path), false, path);
    for (const path of [p(a, kept.k1), p(c, kept.k2), v2kept.path, recent]) {
      assert.ok(await onDisk(path), `${path} kept`);
    }
    const again = await del();
    assert.equal(summaryOf(again.lines)?.files, 0);
  });
});
