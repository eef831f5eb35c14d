/**
 * Crash durability with a real process: the agent (bin/rebalancer-agent.js) is killed with
 * SIGKILL in the middle of an assignment and restarted; the assignment completes, tasks
 * done before the crash are not downloaded again, and no temp file is left behind.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { md5Base64 } from '../../src/manta/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import {
  getAssignment,
  postAssignment,
  putSourceObject,
  type SourceObject,
  silentLog,
  type TempDirs,
  taskFor,
  tempDirs,
  waitComplete,
} from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly metricsUrl: string | undefined;
  readonly exited: Promise<number | null>;
}

async function spawnAgent(dirs: TempDirs, extra: string[] = []): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      '--host=127.0.0.1',
      '--port=0',
      `--state-dir=${dirs.stateDir}`,
      `--object-root=${dirs.objectRoot}`,
      '--allow-host-port-sources=true',
      '--retry-delays-ms=10',
      '--workers=1',
      '--workers-per-assignment=2',
      '--log-level=info',
      ...(extra.some((a) => a.startsWith('--metrics-')) ? [] : ['--metrics-enabled=false']),
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: proc.stdout! });
  const listening = await new Promise<{ url: string; metrics_url?: string }>((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string; metrics_url?: string };
        if (rec.msg === 'rebalancer agent listening' && rec.url) {
          resolve({ url: rec.url, ...(rec.metrics_url ? { metrics_url: rec.metrics_url } : {}) });
        }
      } catch {
        // Not a log record: ignore it, the exit handler reports failures.
        return;
      }
    });
    exited.then((code) => reject(new Error(`agent exited (${code}) before listening: ${stderr}`)));
  });
  return { proc, url: listening.url, metricsUrl: listening.metrics_url, exited };
}

describe('agent process crash and restart', () => {
  let dirs: TempDirs;
  let mako: MakoHandle;
  const children: Child[] = [];

  before(async () => {
    dirs = await tempDirs();
    // Latency stretches the assignment so the crash lands in the middle of it.
    mako = await startMako({
      root: dirs.sourceRoot,
      log: silentLog,
      keepAlive: true,
      faults: { latencyMs: 40 },
    });
  });
  after(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await c.exited;
      }
    }
    await mako.close();
    await dirs.cleanup();
  });

  test('kill -9 mid-assignment, restart: completes, done tasks not redone, no temp files', async () => {
    const objects: SourceObject[] = [];
    for (let i = 0; i < 40; i++) objects.push(await putSourceObject(dirs.sourceRoot, 256 * 1024));
    const first = await spawnAgent(dirs);
    children.push(first);
    const id = randomUUID();
    const res = await postAssignment(first.url, {
      id,
      tasks: objects.map((o) => taskFor(o, mako.storageId)),
    });
    assert.equal(res.status, 200);
    for (;;) {
      const a = await getAssignment(first.url, id);
      if (a.stats.complete >= 8) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    first.proc.kill('SIGKILL');
    await first.exited;

    const presentAtCrash = new Set<string>();
    for (const o of objects) {
      const file = join(dirs.objectRoot, o.owner, o.objectId);
      if (existsSync(file) && md5Base64(await readFile(file)) === o.md5) presentAtCrash.add(o.path);
    }
    assert.ok(presentAtCrash.size >= 8);
    assert.ok(presentAtCrash.size < objects.length, 'the crash happened mid-assignment');
    const requestsBefore = mako.requests.list().length;

    const second = await spawnAgent(dirs);
    children.push(second);
    const done = await waitComplete(second.url, id);
    assert.deepEqual(done.stats, { state: { Complete: null }, failed: 0, complete: 40, total: 40 });

    const redone = mako.requests
      .list()
      .slice(requestsBefore)
      .filter((r) => presentAtCrash.has(r.path));
    assert.deepEqual(redone, [], 'objects installed before the crash are not downloaded again');
    for (const o of objects) {
      assert.equal(md5Base64(await readFile(join(dirs.objectRoot, o.owner, o.objectId))), o.md5);
    }
    assert.deepEqual(await readdir(join(dirs.objectRoot, '.rebalancer-tmp')), []);

    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0, 'graceful shutdown exits 0');
  });

  test('the agent process serves its own memory, heap and event-loop metrics', async () => {
    const agent = await spawnAgent(dirs, [
      '--metrics-enabled=true',
      '--metrics-host=127.0.0.1',
      '--metrics-port=0',
    ]);
    children.push(agent);
    assert.ok(agent.metricsUrl, 'the listening record names the metrics URL');
    const text = await (await fetch(agent.metricsUrl)).text();
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^${name}[{ ]`, 'm'), name);
    }
    assert.match(text, /^# TYPE request_count counter$/m, "beside L's own metrics");
    agent.proc.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
  });
});
