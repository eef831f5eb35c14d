/**
 * The processes of the agent benchmark: a real agent (bin/rebalancer-agent.js) fed as a manager
 * feeds it, and the baseline scripts, each in its own process so none pays for another's heap.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Assignment } from '../../src/api/agent.ts';
import { heapLimitEnv, SERVICE_HEAP_MB } from '../../src/sandbox/process.ts';

const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));
/** The manager's batch size in the benchmark: assignments of this many tasks, all posted at once. */
const TASKS_PER_ASSIGNMENT = 200;

export interface SourceObject {
  owner: string;
  objectId: string;
  md5: string;
}

/** The source storage node: a mako stand-in in its own process, as a real one would be. */
export interface Source {
  readonly root: string;
  readonly url: string;
  /** `host:port`, the form the agent accepts as a source with allow-host-port-sources. */
  readonly storageId: string;
}

export interface AgentProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface AgentLaunch {
  readonly dir: string;
  readonly parallel: number;
  /** Write a V8 CPU profile of the agent (`--cpu-prof`) into this directory at exit. */
  readonly profileDir?: string | undefined;
}

/** UV_THREADPOOL_SIZE of the agent: the environment's, else two threads per download. */
export function agentThreadpoolSize(parallel: number): string {
  return process.env.UV_THREADPOOL_SIZE ?? String(Math.max(4, 2 * parallel));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export async function startAgent(launch: AgentLaunch): Promise<AgentProcess> {
  const { dir, parallel, profileDir } = launch;
  const port = await freePort();
  const nodeArgs = [
    // e.g. BENCH_AGENT_NODE_ARGS='--trace-gc' for any other flag of node.
    ...(process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
  ];
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      BIN,
      '--host=127.0.0.1',
      `--port=${port}`,
      `--state-dir=${join(dir, 'state')}`,
      `--object-root=${join(dir, 'manta')}`,
      '--allow-host-port-sources=true',
      '--metrics-enabled=false',
      `--workers=${Math.max(1, parallel / 4)}`,
      `--workers-per-assignment=${parallel}`,
      `--max-downloads=${parallel}`,
      '--max-queued=1000',
      '--log-level=warn',
    ],
    {
      stdio: ['ignore', process.env.BENCH_AGENT_STDOUT ? 'inherit' : 'ignore', 'inherit'],
      // The agent runs as its service manifest should start it: heap capped (SERVICE_HEAP_MB),
      // and libuv's pool (file writes, fsyncs) twice the downloads at once, which the agent
      // warns about at start when it is not (src/agent/main.ts).
      env: {
        ...process.env,
        UV_THREADPOOL_SIZE: agentThreadpoolSize(parallel),
        ...heapLimitEnv(SERVICE_HEAP_MB.agent),
      },
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
      // SIGTERM: a graceful exit, which is also when --cpu-prof writes its profile.
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Posts the objects as assignments of TASKS_PER_ASSIGNMENT tasks; resolves when all finished. */
export async function agentCopies(
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

/**
 * Runs a baseline script of this directory (its own process, under tsx) with `input` on stdin,
 * with the agent's thread pool: side by side, both get the same threads for their file work.
 */
export async function runBaseline(
  script: string,
  input: { concurrency: number; [field: string]: unknown },
): Promise<{ seconds: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, UV_THREADPOOL_SIZE: agentThreadpoolSize(input.concurrency) },
    },
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
