/**
 * The download bandwidth cap (server.max_bytes_per_second) with a real agent and a real mako:
 * concurrent downloads together stay within the cap, a reload changes it for the running agent
 * (seen in /metrics and in the download time), an invalid configuration on reload is refused
 * and the old one kept, and pacing neither trips the idle timeout nor delays a shutdown.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { type AgentConfig, readConfigFile, resolveConfig } from '../../src/agent/config.ts';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { DownloadProcessor } from '../../src/agent/processor.ts';
import { reloadConfig } from '../../src/agent/reload.ts';
import { RateLimiter } from '../../src/async/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import {
  postAssignment,
  putSourceObject,
  type SourceObject,
  silentLog,
  type TempDirs,
  taskFor,
  tempDirs,
  testConfig,
  waitComplete,
} from './helpers.ts';

const MiB = 1024 * 1024;
const signal = new AbortController().signal;

/** The value of an unlabelled (constant labels only) metric on the agent's /metrics. */
async function metric(agent: RunningAgent, name: string): Promise<number> {
  const text = await (await fetch(agent.metricsUrl!)).text();
  const line = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  assert.ok(line, `${name} missing from /metrics`);
  return Number(line[1]);
}

/** Downloads `objects` in one assignment; resolves with the seconds it took. */
async function download(
  agent: RunningAgent,
  mako: MakoHandle,
  objects: SourceObject[],
): Promise<number> {
  const id = randomUUID();
  const started = performance.now();
  const res = await postAssignment(agent.url, {
    id,
    tasks: objects.map((o) => taskFor(o, mako.storageId)),
  });
  assert.equal(res.status, 200, res.text);
  const done = await waitComplete(agent.url, id, undefined, 120_000);
  assert.deepEqual(done.stats, {
    state: { Complete: null },
    failed: 0,
    complete: objects.length,
    total: objects.length,
  });
  return (performance.now() - started) / 1000;
}

async function objects(root: string, count: number, size: number): Promise<SourceObject[]> {
  const list: SourceObject[] = [];
  for (let i = 0; i < count; i++) list.push(await putSourceObject(root, size));
  return list;
}

describe('download bandwidth cap', () => {
  let dirs: TempDirs;
  let mako: MakoHandle;

  before(async () => {
    dirs = await tempDirs();
    mako = await startMako({ root: dirs.sourceRoot, log: silentLog });
  });
  after(async () => {
    await mako.close();
    await dirs.cleanup();
  });

  function capped(name: string, cap: number, overrides: Partial<AgentConfig> = {}): AgentConfig {
    const base = testConfig(dirs, { stateDir: join(dirs.base, name) });
    return {
      ...base,
      workers: 2,
      workersPerAssignment: 4,
      maxDownloads: 8,
      maxBytesPerSecond: cap,
      metrics: { ...base.metrics, enabled: true },
      ...overrides,
    };
  }

  test('eight concurrent downloads together stay within 4 MiB/s', async () => {
    const cap = 4 * MiB;
    const list = await objects(dirs.sourceRoot, 8, 2 * MiB);
    const agent = await startAgent(capped('steady', cap), { log: silentLog });
    try {
      assert.equal(await metric(agent, 'rebalancer_agent_max_bytes_per_second'), cap);
      let peakInFlight = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peakInFlight = Math.max(peakInFlight, await metric(agent, 'downloads_in_flight'));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const seconds = await download(agent, mako, list);
      sampling = false;
      await sampler;
      assert.ok(peakInFlight >= 4, `downloads ran concurrently (peak ${peakInFlight})`);

      const total = list.length * 2 * MiB;
      // The bucket starts full: one second of the cap passes at once, the rest is paced.
      const paced = (total - cap) / seconds;
      assert.ok(paced <= cap * 1.05, `paced at ${(paced / MiB).toFixed(2)} MiB/s`);
      assert.ok(paced >= cap * 0.7, `paced at ${(paced / MiB).toFixed(2)} MiB/s`);

      assert.equal(await metric(agent, 'bytes_count'), total);
      const measured = await metric(agent, 'rebalancer_agent_download_bytes_per_second');
      // Measured since the agent started (younger than the window), burst included.
      assert.ok(measured > cap * 0.7 && measured <= total / seconds, `measured ${measured}`);
    } finally {
      await agent.close();
    }
  });

  test('a reload changes the cap of the running agent; an invalid one is refused', async () => {
    const path = join(dirs.base, 'reload.toml');
    const records: { level: number; msg: string }[] = [];
    const log = createLogger({
      name: 'agent-test',
      level: 'info',
      destination: { write: (line: string) => records.push(JSON.parse(line)) },
    });
    const agent = await startAgent(capped('reload', MiB, { logLevel: 'info' }), { log });
    // What main.ts does on SIGHUP, with this test's directories and ports kept.
    const load = (): AgentConfig => ({
      ...agent.config,
      maxBytesPerSecond: resolveConfig({ file: readConfigFile(path) }).maxBytesPerSecond,
    });
    const reload = async (text: string): Promise<boolean> => {
      await writeFile(path, text);
      return reloadConfig(agent, load, log);
    };
    try {
      assert.equal(await metric(agent, 'rebalancer_agent_max_bytes_per_second'), MiB);

      assert.equal(await reload('[server]\nmax_bytes_per_second = 0\n'), true);
      assert.ok(records.some((r) => r.msg.includes('server.max_bytes_per_second 1048576 -> 0')));
      assert.equal(await metric(agent, 'rebalancer_agent_max_bytes_per_second'), 0);
      // 8 MiB would take 7 s at the old cap.
      const unlimited = await download(agent, mako, await objects(dirs.sourceRoot, 4, 2 * MiB));
      assert.ok(unlimited < 2, `unlimited after the reload: ${unlimited} s`);

      assert.equal(await reload('[server]\nmax_bytes_per_second = 2097152\n'), true);
      assert.equal(await metric(agent, 'rebalancer_agent_max_bytes_per_second'), 2 * MiB);
      // A full bucket (2 MiB) at once, then 4 MiB at 2 MiB/s.
      const paced = await download(agent, mako, await objects(dirs.sourceRoot, 3, 2 * MiB));
      assert.ok(paced >= 1.8 && paced < 4, `6 MiB at 2 MiB/s: ${paced} s`);

      for (const bad of ['[server]\nmax_bytes_per_second = -1\n', '[server\n']) {
        const errorsBefore = records.filter((r) => r.level === 50).length;
        assert.equal(await reload(bad), false);
        assert.equal(records.filter((r) => r.level === 50).length, errorsBefore + 1);
        assert.equal(agent.config.maxBytesPerSecond, 2 * MiB);
        assert.equal(await metric(agent, 'rebalancer_agent_max_bytes_per_second'), 2 * MiB);
      }
      const last = records.at(-1)!;
      assert.match(last.msg, /configuration reload failed: keeping the running configuration/);
    } finally {
      await agent.close();
    }
  });

  test('a download paced for longer than the idle timeout does not time out', async () => {
    // 64 KiB chunks at 256 KiB/s wait 250 ms each on the cap, the idle timeout is 100 ms, and
    // 1 MiB is more than the socket buffers hold: the socket really is silent meanwhile.
    const tempDir = join(dirs.base, 'idle-tmp');
    await mkdir(tempDir);
    const processor = new DownloadProcessor({
      objectRoot: dirs.objectRoot,
      tempDir,
      idPolicy: 'uuid',
      allowHostPortSources: true,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 100,
      retryDelaysMs: [],
      connectionsPerSource: 1,
      bandwidth: new RateLimiter(256 * 1024),
      log: silentLog,
      metrics: new AgentMetrics({ service: 's', server: 'x', datacenter: 'dc' }),
    });
    try {
      const [obj] = await objects(dirs.sourceRoot, 1, MiB);
      const started = performance.now();
      const result = await processor.process(taskFor(obj!, mako.storageId), signal);
      const seconds = (performance.now() - started) / 1000;
      assert.deepEqual(result, { status: 'Complete', outcome: 'complete', bytes: MiB });
      assert.ok(seconds >= 2.5, `1 MiB at 256 KiB/s took ${seconds} s`);
    } finally {
      await processor.close();
    }
  });

  test('a shutdown ends downloads waiting on the cap; they resume after restart', async () => {
    const list = await objects(dirs.sourceRoot, 2, 4 * MiB);
    const config = capped('shutdown', 256 * 1024);
    const first = await startAgent(config, { log: silentLog });
    const id = randomUUID();
    const res = await postAssignment(first.url, {
      id,
      tasks: list.map((o) => taskFor(o, mako.storageId)),
    });
    assert.equal(res.status, 200, res.text);
    await new Promise((r) => setTimeout(r, 500));
    const closing = performance.now();
    await first.close(200);
    const closeSeconds = (performance.now() - closing) / 1000;
    assert.ok(closeSeconds < 2, `close took ${closeSeconds} s`);

    const second = await startAgent({ ...config, maxBytesPerSecond: 0 }, { log: silentLog });
    try {
      const done = await waitComplete(second.url, id);
      assert.deepEqual(done.stats, { state: { Complete: null }, failed: 0, complete: 2, total: 2 });
    } finally {
      await second.close();
    }
  });
});
