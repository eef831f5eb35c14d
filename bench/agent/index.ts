/**
 * Agent benchmark (`npm run bench -- agent`): a real agent process (bin/rebalancer-agent.js)
 * copies objects from a mako stand-in on loopback, beside baselines that do the same I/O with
 * plain Node and no agent logic, in one run:
 * Each baseline runs before and after the agent; the faster run is the one compared with.
 *  1. large objects (16 × 64 MiB): agent MB/s vs a baseline streaming the same objects from the
 *     same mako into files with MD5 and fsync (baseline-large.ts). Target ≥ 0.9.
 *  2. small objects (20,000 × 16 KiB): agent objects/s vs a loop writing and fsyncing 20,000
 *     files of that size with the same parallelism (baseline-small.ts: the disk's limit for
 *     durable small files). Target ≥ 0.6. The agent's peak RSS (VmHWM): target < 150 MB.
 *     Also, for reference: plain GETs of the same objects (baseline-get.ts), the source's
 *     ceiling for any downloader.
 * The agent gets its work as a manager gives it: assignments of 200 tasks, all posted at once.
 * Options: --parallel N (downloads at once, agent and baselines; default 16).
 * Prints a summary, then one JSON line: {"bench":"agent","figures":{...},"targets":[...]}.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Assignment } from '../../src/api/agent.ts';
import {
  entryPoint,
  heapLimitEnv,
  SERVICE_HEAP_MB,
  startService,
  stopProcess,
} from '../../src/sandbox/process.ts';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { cpuSeconds, rssMb } from '../support/proc.ts';

const { values: args } = parseArgs({ options: { parallel: { type: 'string', default: '16' } } });
const PARALLEL = Number(args.parallel);
const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));
const MiB = 1024 * 1024;
const LARGE = { count: 16, size: 64 * MiB };
const SMALL = { count: 20_000, size: 16 * 1024 };
const TASKS_PER_ASSIGNMENT = 200;
/** Objects spread over this many owners (directories), as in a real object store. */
const OWNERS = 20;
const TARGETS = { large: 0.9, small: 0.6, rssMb: 150 };

interface SourceObject {
  owner: string;
  objectId: string;
  md5: string;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** `count` objects of `size` bytes with distinct contents under the mako root. */
async function writeSources(
  root: string,
  owners: string[],
  count: number,
  size: number,
): Promise<SourceObject[]> {
  const data = randomBytes(size);
  const objects: SourceObject[] = [];
  for (let i = 0; i < count; i++) {
    data.writeUInt32BE(i, 0);
    const owner = owners[i % owners.length]!;
    const objectId = randomUUID();
    await writeFile(join(root, owner, objectId), data);
    objects.push({ owner, objectId, md5: createHash('md5').update(data).digest('base64') });
  }
  return objects;
}

/** Writes back dirty pages so that neither side of a comparison pays for the other's. */
function syncDisk(): void {
  execFileSync('sync');
}

interface AgentProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startAgent(dir: string): Promise<AgentProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_AGENT_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the agent.
      ...(process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      BIN,
      '--host=127.0.0.1',
      `--port=${port}`,
      `--state-dir=${join(dir, 'state')}`,
      `--object-root=${join(dir, 'manta')}`,
      '--allow-host-port-sources=true',
      '--metrics-enabled=false',
      `--workers=${Math.max(1, PARALLEL / 4)}`,
      `--workers-per-assignment=${PARALLEL}`,
      `--max-downloads=${PARALLEL}`,
      '--max-queued=1000',
      '--log-level=warn',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      // The agent runs as its service manifest should start it: heap capped (SERVICE_HEAP_MB).
      env: { ...process.env, ...heapLimitEnv(SERVICE_HEAP_MB.agent) },
    },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the agent exited while starting');
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
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Posts the objects as assignments of TASKS_PER_ASSIGNMENT tasks; resolves when all finished. */
/** The source storage node: a mako stand-in in its own process, as a real one would be. */
interface Source {
  readonly root: string;
  readonly url: string;
  /** `host:port`, the form the agent accepts as a source with allow-host-port-sources. */
  readonly storageId: string;
}

async function agentCopies(
  agent: AgentProcess,
  mako: Source,
  objects: SourceObject[],
): Promise<number> {
  const started = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < objects.length; i += TASKS_PER_ASSIGNMENT) {
    const id = randomUUID();
    const tasks = objects.slice(i, i + TASKS_PER_ASSIGNMENT).map((o) => ({
      object_id: o.objectId,
      owner: o.owner,
      md5sum: o.md5,
      source: { datacenter: 'bench', manta_storage_id: mako.storageId },
      status: 'Pending',
    }));
    const res = await fetch(`${agent.url}/assignments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, tasks }),
    });
    if (res.status !== 200) throw new Error(`POST /assignments: ${res.status} ${await res.text()}`);
    await res.text();
    ids.push(id);
  }
  // Assignments finish about in order: wait for each in turn (a few polls a second in all).
  for (const id of ids) {
    for (;;) {
      const res = await fetch(`${agent.url}/assignments/${id}`);
      const assignment = (await res.json()) as Assignment;
      if (typeof assignment.stats.state === 'object') {
        if (assignment.stats.failed !== 0) {
          throw new Error(`assignment ${id}: ${JSON.stringify(assignment.stats)}`);
        }
        break;
      }
      await sleep(50);
    }
  }
  return (performance.now() - started) / 1000;
}

/** Runs a baseline script (its own process, under tsx) with `input` on stdin. */
async function runBaseline(script: string, input: unknown): Promise<{ seconds: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  child.stdin.end(JSON.stringify(input));
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(out) as { seconds: number };
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-bench-'));
  const root = join(dir, 'source');
  await mkdir(root);
  const makoService = await startService({
    name: 'mako',
    entry: entryPoint('sandbox/mako/main'),
    args: ['--root', root, '--port', '0', '--keep-alive', '--no-content-md5'],
    log: join(dir, 'mako.log'),
  });
  const { host, port, url } = makoService.address;
  const mako: Source = { root, url, storageId: `${host}:${port}` };
  const figures: Record<string, number> = {
    parallel: PARALLEL,
    // The machine's pace at what a mako and an agent do most (bench/support/calibrate.ts).
    yardstick_loopback_http_per_s: round(await loopbackHttpRate()),
  };
  let agent: AgentProcess | undefined;
  try {
    const owners = Array.from({ length: OWNERS }, () => randomUUID());
    for (const owner of owners) await mkdir(join(mako.root, owner), { recursive: true });
    log(`writing ${LARGE.count} × 64 MiB and ${SMALL.count} × 16 KiB source objects`);
    const large = await writeSources(mako.root, owners, LARGE.count, LARGE.size);
    const small = await writeSources(mako.root, owners, SMALL.count, SMALL.size);
    syncDisk();

    agent = await startAgent(join(dir, 'agent'));
    const largeMb = (LARGE.count * LARGE.size) / MiB;

    // Nothing is deleted until the end: freeing extents (discard) slows the fsyncs that follow.
    // The disk's pace drifts (writeback, discards of earlier runs): each baseline runs before
    // and after the agent, and the faster of the two is the one compared with.
    const jobs = large.map((o) => ({ url: `${mako.url}/${o.owner}/${o.objectId}`, md5: o.md5 }));
    const largeBaseline = async (n: number): Promise<number> => {
      log(`large objects: baseline ${n}`);
      const out = join(dir, `baseline-large-${n}`);
      await mkdir(out);
      const { seconds } = await runBaseline('./baseline-large.ts', {
        jobs,
        dir: out,
        concurrency: PARALLEL,
      });
      syncDisk();
      return seconds;
    };
    const largeBefore = await largeBaseline(1);
    log('large objects: agent');
    const largeAgent = await agentCopies(agent, mako, large);
    syncDisk();
    const largeBase = { seconds: Math.min(largeBefore, await largeBaseline(2)) };
    figures.large_baseline_mb_per_s = round(largeMb / largeBase.seconds);
    figures.large_agent_mb_per_s = round(largeMb / largeAgent);
    figures.large_ratio = round(figures.large_agent_mb_per_s / figures.large_baseline_mb_per_s, 3);
    figures.agent_large_peak_rss_mb = round(rssMb(agent.pid));
    // A fresh agent for the small objects: its peak RSS is theirs alone.
    await agent.stop();
    agent = await startAgent(join(dir, 'agent-small'));

    const smallBaseline = async (n: number): Promise<number> => {
      log(`small objects: baseline ${n}`);
      const out = join(dir, `baseline-small-${n}`);
      await mkdir(out);
      const { seconds } = await runBaseline('./baseline-small.ts', {
        dir: out,
        count: SMALL.count,
        size: SMALL.size,
        concurrency: PARALLEL,
      });
      syncDisk();
      return seconds;
    };
    const smallBefore = await smallBaseline(1);
    // Not a target: how fast the source alone serves these objects (no disk, no hashing), the
    // ceiling for any downloader on this machine.
    log('small objects: source GET rate');
    const smallGets = await runBaseline('./baseline-get.ts', {
      urls: small.map((o) => `${mako.url}/${o.owner}/${o.objectId}`),
      concurrency: PARALLEL,
    });
    figures.small_source_gets_per_s = round(SMALL.count / smallGets.seconds);
    log('small objects: agent');
    const cpuBefore = cpuSeconds(agent.pid);
    const smallAgent = await agentCopies(agent, mako, small);
    figures.small_agent_cpu_us_per_object = round(
      ((cpuSeconds(agent.pid) - cpuBefore) / SMALL.count) * 1e6,
      0,
    );
    syncDisk();
    const smallBase = { seconds: Math.min(smallBefore, await smallBaseline(2)) };
    figures.small_baseline_files_per_s = round(SMALL.count / smallBase.seconds);
    figures.small_agent_objects_per_s = round(SMALL.count / smallAgent);
    figures.small_ratio = round(
      figures.small_agent_objects_per_s / figures.small_baseline_files_per_s,
      3,
    );
    figures.small_agent_vs_source_ratio = round(
      figures.small_agent_objects_per_s / figures.small_source_gets_per_s,
      3,
    );
    figures.agent_small_peak_rss_mb = round(rssMb(agent.pid));
  } finally {
    await agent?.stop();
    await stopProcess(makoService.process.pid);
    await rm(dir, { recursive: true, force: true });
  }

  const targets = [
    {
      name: 'large objects: agent MB/s / baseline (stream + MD5 + fsync)',
      value: figures.large_ratio!,
      target: TARGETS.large,
      met: figures.large_ratio! >= TARGETS.large,
    },
    {
      name: 'small objects: agent objects/s / baseline (write + fsync)',
      value: figures.small_ratio!,
      target: TARGETS.small,
      met: figures.small_ratio! >= TARGETS.small,
    },
    {
      name: 'agent peak RSS copying the small objects (MB)',
      value: figures.agent_small_peak_rss_mb!,
      target: TARGETS.rssMb,
      met: figures.agent_small_peak_rss_mb! < TARGETS.rssMb,
    },
  ];
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(28)} ${v}\n`);
  for (const t of targets) {
    process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (target ${t.target})\n`);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'agent', figures, targets })}\n`);
}

await main();
