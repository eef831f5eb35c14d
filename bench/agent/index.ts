/**
 * Agent benchmark: a real agent process (bin/rebalancer-agent.js) copies objects from a
 * mako stand-in on loopback; a plain undici GET loop in its own process is the baseline.
 *   node --import tsx bench/agent/index.ts
 * Prints a summary, then one JSON line: {"bench":"agent","figures":{...},"targets":[...]}.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Assignment } from '../../src/api/agent.ts';
import { createLogger } from '../../src/log/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline-get.ts', import.meta.url));
const CONCURRENCY = 16;
const MiB = 1024 * 1024;

interface Obj {
  owner: string;
  objectId: string;
  md5: string;
  size: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Writes `count` objects of `size` bytes (distinct contents) under the mako root. */
async function makeObjects(root: string, count: number, size: number): Promise<Obj[]> {
  const base = randomBytes(size);
  const objects: Obj[] = [];
  for (let i = 0; i < count; i++) {
    base.writeUInt32BE(i, 0);
    const owner = randomUUID();
    const objectId = randomUUID();
    await mkdir(join(root, owner), { recursive: true });
    // flush: written back now, so the kernel's writeback does not compete with the agent.
    await writeFile(join(root, owner, objectId), base, { flush: true });
    objects.push({ owner, objectId, size, md5: createHash('md5').update(base).digest('base64') });
  }
  return objects;
}

interface AgentProc {
  readonly url: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

async function startAgentProcess(dir: string): Promise<AgentProc> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      BIN,
      '--host=127.0.0.1',
      `--port=${port}`,
      `--state-dir=${join(dir, 'state')}`,
      `--object-root=${join(dir, 'manta')}`,
      '--allow-host-port-sources=true',
      '--metrics-enabled=false',
      '--workers=4',
      `--workers-per-assignment=${CONCURRENCY}`,
      `--max-downloads=${CONCURRENCY}`,
      '--log-level=fatal',
    ],
    // As the service manifest should: one libuv thread per parallel download and then some.
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        UV_THREADPOOL_SIZE: '64',
        // BENCH_AGENT_HEAP_MB caps the agent's V8 old space, as a service manifest may.
        ...(process.env.BENCH_AGENT_HEAP_MB
          ? { NODE_OPTIONS: `--max-old-space-size=${process.env.BENCH_AGENT_HEAP_MB}` }
          : {}),
      },
    },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error('agent exited during startup');
    try {
      const res = await fetch(`${url}/assignments/${randomUUID()}`);
      await res.text();
      break;
    } catch {
      await sleep(50);
    }
  }
  return {
    url,
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

function tasksOf(objects: Obj[], storageId: string) {
  return objects.map((o) => ({
    object_id: o.objectId,
    owner: o.owner,
    md5sum: o.md5,
    source: { datacenter: 'bench', manta_storage_id: storageId },
    status: 'Pending',
  }));
}

async function runAssignment(
  agent: AgentProc,
  objects: Obj[],
  storageId: string,
  onPoll?: () => void,
): Promise<{ seconds: number; result: Assignment }> {
  const id = randomUUID();
  const started = performance.now();
  const res = await fetch(`${agent.url}/assignments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, tasks: tasksOf(objects, storageId) }),
  });
  if (res.status !== 200) throw new Error(`POST: ${res.status} ${await res.text()}`);
  await res.text();
  for (;;) {
    onPoll?.();
    // A small poll gap keeps polling overhead negligible against the work measured.
    const r = await fetch(`${agent.url}/assignments/${id}`);
    const a = (await r.json()) as Assignment;
    if (typeof a.stats.state === 'object') {
      return { seconds: (performance.now() - started) / 1000, result: a };
    }
    await sleep(20);
  }
}

async function baseline(
  mako: MakoHandle,
  objects: Obj[],
): Promise<{ seconds: number; bytes: number }> {
  const urls = objects.map((o) => `${mako.url}/${o.owner}/${o.objectId}`);
  const child = spawn(process.execPath, ['--import', 'tsx', BASELINE], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin!.end(JSON.stringify({ urls, concurrency: CONCURRENCY }));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`baseline exited ${code}`);
  return JSON.parse(out) as { seconds: number; bytes: number };
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** What the disk sustains for write + fsync (the agent's floor cost for large objects). */
async function diskFsyncRate(dir: string): Promise<number> {
  const buf = randomBytes(8 * MiB);
  const file = join(dir, 'disk-probe');
  const started = performance.now();
  const fh = await open(file, 'w');
  for (let i = 0; i < 32; i++) await fh.write(buf);
  await fh.sync();
  await fh.close();
  const seconds = (performance.now() - started) / 1000;
  await rm(file);
  return 256 / seconds;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-bench-'));
  const log = createLogger({ name: 'bench', level: 'silent' });
  const mako = await startMako({
    root: join(dir, 'source'),
    log,
    keepAlive: true,
    contentMd5Header: false,
  });
  const figures: Record<string, number> = {};
  try {
    figures.disk_fsync_write_mb_per_s = round(await diskFsyncRate(dir));
    process.stderr.write('writing source objects...\n');
    const small = await makeObjects(mako.root, 2000, 64 * 1024);
    const large = await makeObjects(mako.root, 20, 64 * MiB);

    const agent = await startAgentProcess(join(dir, 'agent1'));
    try {
      const bSmall = await baseline(mako, small);
      const aSmall = await runAssignment(agent, small, mako.storageId);
      if (aSmall.result.stats.failed !== 0)
        throw new Error(`small: ${JSON.stringify(aSmall.result.stats)}`);
      figures.small_baseline_gets_per_s = round(small.length / bSmall.seconds);
      figures.small_tasks_per_s = round(small.length / aSmall.seconds);
      figures.small_agent_mb_per_s = round((small.length * 64 * 1024) / MiB / aSmall.seconds);
      figures.small_ratio = round(figures.small_tasks_per_s / figures.small_baseline_gets_per_s, 3);

      const bLarge = await baseline(mako, large);
      const aLarge = await runAssignment(agent, large, mako.storageId);
      if (aLarge.result.stats.failed !== 0)
        throw new Error(`large: ${JSON.stringify(aLarge.result.stats)}`);
      const largeMb = (large.length * 64 * MiB) / MiB;
      figures.large_baseline_mb_per_s = round(largeMb / bLarge.seconds);
      figures.large_agent_mb_per_s = round(largeMb / aLarge.seconds);
      figures.large_tasks_per_s = round(large.length / aLarge.seconds, 2);
      figures.large_ratio = round(
        figures.large_agent_mb_per_s / figures.large_baseline_mb_per_s,
        3,
      );
      figures.large_vs_disk_ratio = round(
        figures.large_agent_mb_per_s /
          Math.min(figures.large_baseline_mb_per_s, figures.disk_fsync_write_mb_per_s!),
        3,
      );
    } finally {
      await agent.stop();
    }
    await rm(join(dir, 'agent1'), { recursive: true, force: true });

    // Memory with one 100,000-task assignment (sources absent: every task is a quick 404).
    const agent2 = await startAgentProcess(join(dir, 'agent2'));
    try {
      const ghosts: Obj[] = Array.from({ length: 100_000 }, () => ({
        owner: randomUUID(),
        objectId: randomUUID(),
        md5: '1B2M2Y8AsgTpgAEY7/rnxA==',
        size: 0,
      }));
      const pid = agent2.proc.pid!;
      figures.rss_idle_mb = round(rssMb(pid).rss);
      let peakDuring = 0;
      let polls = 0;
      const big = await runAssignment(agent2, ghosts, mako.storageId, () => {
        const { rss } = rssMb(pid);
        if (polls++ === 0) figures.rss_after_100k_post_mb = round(rss);
        peakDuring = Math.max(peakDuring, rss);
      });
      figures.rss_100k_tasks_peak_mb = round(Math.max(peakDuring, rssMb(pid).hwm));
      figures.rss_100k_tasks_end_mb = round(rssMb(pid).rss);
      figures.queue_100k_tasks_per_s = round(100_000 / big.seconds);
      if (big.result.stats.complete !== 100_000) throw new Error('100k assignment incomplete');
    } finally {
      await agent2.stop();
    }
  } finally {
    await mako.close();
    await rm(dir, { recursive: true, force: true });
  }

  const targets = [
    {
      name: 'small-object tasks/s >= 0.5 x baseline GET rate',
      value: figures.small_ratio!,
      target: 0.5,
      met: figures.small_ratio! >= 0.5,
    },
    {
      name: 'large-object MB/s >= 0.5 x baseline',
      value: figures.large_ratio!,
      target: 0.5,
      met: figures.large_ratio! >= 0.5,
    },
    {
      name: 'large-object MB/s >= 0.5 x min(baseline GET, disk write+fsync rate)',
      value: figures.large_vs_disk_ratio!,
      target: 0.5,
      met: figures.large_vs_disk_ratio! >= 0.5,
    },
    {
      name: 'agent peak RSS with a 100,000-task assignment <= 300 MB',
      value: figures.rss_100k_tasks_peak_mb!,
      target: 300,
      met: figures.rss_100k_tasks_peak_mb! <= 300,
    },
  ];
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(30)} ${v}\n`);
  for (const t of targets) {
    process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (target ${t.target})\n`);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'agent', figures, targets })}\n`);
}

await main();
