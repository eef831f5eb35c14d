/**
 * One evacuate job through the manager, measured: job created → Complete, the CPU every
 * process spent meanwhile (by pid: manager, Moray stand-ins, storinfo, load agents; all of
 * PostgreSQL; the bench; the machine), the manager's peak resident set, and what the load
 * agents were asked (posts, tasks, polls).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagerClient } from '../../src/adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../src/api/manager.ts';
import { cpuSeconds, machineCpuSeconds, postgresCpuSeconds, rssMb } from '../support/proc.ts';
import type { CeilingFixture } from './fixture.ts';
import type { LoadAgentStats } from './load-agent.ts';
import { databaseOf, pgActivity, pgBackends, pgCpuByGroup } from './pg-cpu.ts';

export interface JobFigures {
  jobSeconds: number;
  objectsPerSecond: number;
  /** Objects/s between 10% and 90% of the objects complete: the rate without ramp and tail. */
  steadyObjectsPerSecond: number;
  /** Seconds from job creation to the first object complete, and from the last one to the end. */
  firstCompleteSeconds: number;
  /** CPU seconds during the job by process kind; the machine's busy and steal. */
  cpu: Record<string, number>;
  managerCpuMicrosPerObject: number;
  postgresCpuMicrosPerObject: number;
  /** PostgreSQL's CPU seconds by database: the manager's store, the Moray shards', the rest. */
  postgresByDatabase: Record<string, number>;
  /** The manager store's committed transactions and written rows per object. */
  managerStorePerObject: { commits: number; rows: number };
  moraysCpuMicrosPerObject: number;
  managerPeakRssMb: number;
  managerIdleRssMb: number;
  /** The manager's longest event-loop delay while the job ran (its metrics, every ~2 s), ms. */
  eventLoopLagMaxMs: number;
  /** How long GET /jobs/:id took to answer while the job ran (polled every 250 ms), ms. */
  statusLatencyMs: {
    max: number;
    p99: number;
    p50: number;
    samples: number;
    slowestAtSeconds: number;
  };
  agents: LoadAgentStats & { tasksPerPost: number; pollsPerPost: number };
  final: JobStatus['results'];
}

type CpuSnapshot = Record<string, number>;

function cpuNow(fixture: CeilingFixture): CpuSnapshot {
  const pidCpu = (pid: number | undefined) => (pid === undefined ? 0 : cpuSeconds(pid));
  const own = process.cpuUsage();
  const machine = machineCpuSeconds();
  return {
    manager: pidCpu(fixture.managerPid),
    morays: fixture.morayPids().reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    postgres: postgresCpuSeconds(),
    storinfo: pidCpu(fixture.pidOf('storinfo')),
    loadAgents: pidCpu(fixture.agents?.pid),
    bench: (own.user + own.system) / 1e6,
    machine: machine.busy,
    steal: machine.steal,
  };
}

export async function measureJob(
  fixture: CeilingFixture,
  objects: number,
  log: (message: string) => void,
): Promise<JobFigures> {
  const { managerPid, managerUrl, sandbox, agents } = fixture;
  if (managerPid === undefined || !managerUrl || !sandbox || !agents) throw new Error('no fixture');
  const manager = new ManagerClient(managerUrl);
  const evacuated = sandbox.sharks[0]?.manta_storage_id as string;
  const agentsBefore = await agents.stats();
  const groups = new Map<string, string>();
  if (fixture.managerDatabaseUrl)
    groups.set(databaseOf(fixture.managerDatabaseUrl), 'managerStore');
  for (const shard of sandbox.shards) {
    if (shard.database_url) groups.set(databaseOf(shard.database_url), 'morayShards');
  }
  const pgBefore = await pgBackends(fixture.pgUrl);
  const storeDb = fixture.managerDatabaseUrl ? databaseOf(fixture.managerDatabaseUrl) : '';
  const storeBefore = (await pgActivity(fixture.pgUrl, [storeDb])).get(storeDb);
  const idleRssMb = rssMb(managerPid, 'VmRSS');
  const before = cpuNow(fixture);
  const started = performance.now();
  const id = await manager.createEvacuate(evacuated);
  log(`job ${id} evacuates ${evacuated}`);
  let status: JobStatus;
  let lastLog = started;
  let lastComplete = 0;
  const at: { first?: number; p10?: number; p90?: number } = {};
  const latencies: number[] = [];
  let lagMaxMs = await eventLoopLagMaxMs(managerUrl);
  let lastLag = started;
  const slowest = { ms: 0, at: 0 };
  for (;;) {
    const asked = performance.now();
    status = await manager.get(id);
    const now = performance.now();
    latencies.push(now - asked);
    if (now - asked >= slowest.ms)
      Object.assign(slowest, { ms: now - asked, at: (asked - started) / 1000 });
    const t = (now - started) / 1000;
    const r = status.results;
    if (at.first === undefined && r.Complete > 0) at.first = t;
    if (at.p10 === undefined && r.Complete >= objects * 0.1) at.p10 = t;
    if (at.p90 === undefined && r.Complete >= objects * 0.9) at.p90 = t;
    if (now - lastLag >= 2000) {
      lastLag = now;
      lagMaxMs = Math.max(lagMaxMs, await eventLoopLagMaxMs(managerUrl));
    }
    if (now - lastLog >= 10_000) {
      const rate = (r.Complete - lastComplete) / ((now - lastLog) / 1000);
      lastLog = now;
      lastComplete = r.Complete;
      log(
        `${t.toFixed(0)} s: total ${r.Total} unprocessed ${r.Unprocessed} assigned ${r.Assigned} post ${r['Post Processing']} complete ${r.Complete} (${rate.toFixed(0)}/s) skipped ${r.Skipped} error ${r.Error}; manager CPU ${(cpuSeconds(managerPid) - (before.manager ?? 0)).toFixed(1)} s, RSS ${rssMb(managerPid, 'VmRSS').toFixed(0)} MiB`,
      );
    }
    if (FINAL_JOB_STATE_NAMES.includes(status.state)) break;
    await sleep(250);
  }
  const jobSeconds = (performance.now() - started) / 1000;
  const after = cpuNow(fixture);
  const pgAfter = await pgBackends(fixture.pgUrl);
  // Backends report their counters at most once a second (PostgreSQL 15).
  await sleep(1500);
  const storeAfter = (await pgActivity(fixture.pgUrl, [storeDb])).get(storeDb);
  const agentsAfter = await agents.stats();
  if (status.state !== 'Complete') throw new Error(`job ended ${JSON.stringify(status)}`);
  const cpu: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) cpu[k] = v - (before[k] ?? 0);
  cpu.available = jobSeconds * machineCpuSeconds().cores;
  const complete = status.results.Complete;
  const perObject = (seconds: number | undefined) => ((seconds ?? 0) * 1e6) / Math.max(1, complete);
  const posts = agentsAfter.posts - agentsBefore.posts;
  const refused: Record<string, number> = {};
  for (const [k, v] of Object.entries(agentsAfter.refused)) {
    refused[k] = v - (agentsBefore.refused[k] ?? 0);
  }
  const steady =
    at.p10 !== undefined && at.p90 !== undefined && at.p90 > at.p10
      ? (objects * 0.8) / (at.p90 - at.p10)
      : complete / jobSeconds;
  return {
    jobSeconds,
    objectsPerSecond: complete / jobSeconds,
    steadyObjectsPerSecond: steady,
    firstCompleteSeconds: at.first ?? jobSeconds,
    cpu,
    managerCpuMicrosPerObject: perObject(cpu.manager),
    postgresCpuMicrosPerObject: perObject(cpu.postgres),
    postgresByDatabase: pgCpuByGroup(pgBefore, pgAfter, groups, cpu.postgres ?? 0),
    managerStorePerObject: {
      commits: ((storeAfter?.commits ?? 0) - (storeBefore?.commits ?? 0)) / Math.max(1, complete),
      rows: ((storeAfter?.rows ?? 0) - (storeBefore?.rows ?? 0)) / Math.max(1, complete),
    },
    moraysCpuMicrosPerObject: perObject(cpu.morays),
    managerPeakRssMb: rssMb(managerPid),
    managerIdleRssMb: idleRssMb,
    eventLoopLagMaxMs: Math.max(lagMaxMs, await eventLoopLagMaxMs(managerUrl)),
    statusLatencyMs: { ...latencySummary(latencies), slowestAtSeconds: slowest.at },
    agents: {
      posts,
      tasks: agentsAfter.tasks - agentsBefore.tasks,
      gets: agentsAfter.gets - agentsBefore.gets,
      deletes: agentsAfter.deletes - agentsBefore.deletes,
      refused,
      tasksPerPost: posts === 0 ? 0 : (agentsAfter.tasks - agentsBefore.tasks) / posts,
      pollsPerPost: posts === 0 ? 0 : (agentsAfter.gets - agentsBefore.gets) / posts,
    },
    final: status.results,
  };
}

function latencySummary(ms: number[]): Omit<JobFigures['statusLatencyMs'], 'slowestAtSeconds'> {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
  return { max: sorted.at(-1) ?? 0, p99: at(0.99), p50: at(0.5), samples: sorted.length };
}

/**
 * prom-client's `nodejs_eventloop_lag_max_seconds`: the longest delay since its last scrape
 * (each scrape resets it), so scraping every few seconds sees every long block.
 */
async function eventLoopLagMaxMs(managerUrl: string): Promise<number> {
  const text = await (await fetch(`${managerUrl}/metrics`)).text();
  const match = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!match) throw new Error('the manager reports no nodejs_eventloop_lag_max_seconds');
  return Number(match[1]) * 1000;
}
